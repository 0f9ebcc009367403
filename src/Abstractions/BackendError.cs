namespace Gateway.Abstractions;

/// <summary>What kind of failure a backend reports; the host maps each to a status code.</summary>
public enum BackendErrorKind
{
    /// <summary>The input cannot be run by this model (the caller's fault).</summary>
    InvalidInput,

    /// <summary>The model file or its configuration cannot be loaded.</summary>
    LoadFailed,

    /// <summary>The runtime failed while executing a valid request.</summary>
    ExecutionFailed,

    /// <summary>A required runtime library or device is missing.</summary>
    Unavailable,
}

/// <summary>An expected failure, returned as a value rather than thrown.</summary>
/// <param name="Kind">The kind of failure.</param>
/// <param name="Message">What went wrong, in words a caller can act on.</param>
public readonly record struct BackendError(BackendErrorKind Kind, string Message);
