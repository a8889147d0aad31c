using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using SharpFuzz;

namespace DapperIpc.Fuzz;

/// <summary>
/// `DapperIpc.Fuzz &lt;target&gt;`: the afl-fuzz entry (SharpFuzz's in-process fork server).
/// `DapperIpc.Fuzz replay &lt;target&gt; &lt;file or folder&gt;...`: each input once through the
/// same harness, without afl (what a crash's triage runs). `DapperIpc.Fuzz list`: the targets.
/// </summary>
public static class Program
{
    public static int Main(string[] args)
    {
        if (args is ["list"])
        {
            Console.WriteLine(string.Join('\n', FuzzTargets.All.Keys));
            return 0;
        }

        if (args is ["replay", string name, .. var paths] && FuzzTargets.All.TryGetValue(name, out var replayed))
        {
            return Replay(replayed, paths);
        }

        if (args is not [string target] || !FuzzTargets.All.TryGetValue(target, out var fuzzed))
        {
            Console.Error.WriteLine($"usage: DapperIpc.Fuzz <target> | replay <target> <file|dir>... | list; targets: {string.Join(", ", FuzzTargets.All.Keys)}");
            return 2;
        }

        Fuzzer.Run(stream =>
        {
            using var copy = new MemoryStream();
            stream.CopyTo(copy);
            fuzzed(copy.GetBuffer().AsSpan(0, (int)copy.Length));
        });
        return 0;
    }

    private static int Replay(FuzzTargets.Target target, string[] paths)
    {
        var files = paths.SelectMany(p => Directory.Exists(p) ? Directory.GetFiles(p).Order(StringComparer.Ordinal) : (IEnumerable<string>)[p]).ToList();
        int failed = 0;
        foreach (string file in files)
        {
            try
            {
                target(File.ReadAllBytes(file));
            }
            catch (Exception e)
            {
                failed++;
                Console.Error.WriteLine($"{file}: {e}");
            }
        }

        Console.WriteLine($"{files.Count - failed} of {files.Count} inputs passed");
        return failed == 0 ? 0 : 1;
    }
}
