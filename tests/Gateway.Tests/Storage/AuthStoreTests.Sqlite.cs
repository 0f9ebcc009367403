namespace Gateway.Tests.Storage;

/// <summary>The unit tests run the store tests on the embedded SQLite only: no server needed.</summary>
public sealed partial class AuthStoreTests
{
    public static TheoryData<string> Kinds => new() { "sqlite" };
}
