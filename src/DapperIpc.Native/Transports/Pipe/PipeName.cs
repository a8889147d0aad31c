using System;
using System.Security.Cryptography;

namespace DapperIpc.Transports.Pipe;

/// <summary>Pipe names: the launcher gets the full path (\\.\pipe\name, which it checks); .NET wants the bare name.</summary>
internal static class PipeName
{
    public const string Prefix = @"\\.\pipe\";

    /// <summary>A random name: not guessable from the pid or the time.</summary>
    public static string Random() => "dapper-" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(12));

    /// <summary>Accepts "\\.\pipe\name" or "name"; returns "name".</summary>
    public static string Bare(string name)
    {
        string bare = name.StartsWith(Prefix, StringComparison.OrdinalIgnoreCase) ? name[Prefix.Length..] : name;
        if (bare.Length == 0 || bare.Contains('\\', StringComparison.Ordinal))
        {
            throw new IpcException(IpcStatus.InvalidArgument, $"'{name}' is not a local pipe name (\\\\.\\pipe\\<name> or <name>)");
        }

        return bare;
    }

    public static string Full(string bare) => Prefix + bare;
}
