namespace DapperIpc.Tests;

// Tests of what only some platforms have. xunit 2 has no skip from inside a test, and a
// test that returns early is reported as passed: these attributes make such a test
// "skipped", with the reason, where the thing it tests does not exist. The ABI tests
// compile this file too (DapperIpc.Native.AbiTests.csproj links it).

/// <summary>A fact about POSIX (unix-socket files, lstat, file modes, errno, peer credentials): skipped on Windows.</summary>
public sealed class PosixFactAttribute : FactAttribute
{
    public PosixFactAttribute(string reason)
    {
        if (OperatingSystem.IsWindows())
        {
            Skip = "POSIX only: " + reason;
        }
    }
}

/// <summary>A theory about POSIX: skipped on Windows.</summary>
public sealed class PosixTheoryAttribute : TheoryAttribute
{
    public PosixTheoryAttribute(string reason)
    {
        if (OperatingSystem.IsWindows())
        {
            Skip = "POSIX only: " + reason;
        }
    }
}

/// <summary>A fact about Linux alone: skipped elsewhere.</summary>
public sealed class LinuxFactAttribute : FactAttribute
{
    public LinuxFactAttribute(string reason)
    {
        if (!OperatingSystem.IsLinux())
        {
            Skip = "Linux only: " + reason;
        }
    }
}

/// <summary>A theory about Linux alone: skipped elsewhere.</summary>
public sealed class LinuxTheoryAttribute : TheoryAttribute
{
    public LinuxTheoryAttribute(string reason)
    {
        if (!OperatingSystem.IsLinux())
        {
            Skip = "Linux only: " + reason;
        }
    }
}
