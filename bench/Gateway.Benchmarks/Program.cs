using BenchmarkDotNet.Running;

// The gateway's own top-level Program is visible here (InternalsVisibleTo), so name an assembly type instead.
BenchmarkSwitcher.FromAssembly(typeof(Gateway.Benchmarks.Auth.AuthenticationBenchmarks).Assembly).Run(args);
