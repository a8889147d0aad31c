using DapperIpc.Fuzz;

namespace DapperIpc.Tests;

/// <summary>
/// Every input of the fuzz corpus and every crash afl-fuzz ever found (tests/fuzz/corpus,
/// tests/fuzz/crashes) through the same harness the fuzzer runs, uninstrumented: a fixed
/// crash stays fixed, and each harness's invariants hold for the seeds.
/// </summary>
public class FuzzCorpusReplayTests
{
    private static readonly string FuzzDir = FindFuzzDir();

    private static string FindFuzzDir()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            string candidate = Path.Combine(dir.FullName, "tests", "fuzz");
            if (Directory.Exists(Path.Combine(candidate, "corpus")))
            {
                return candidate;
            }
        }

        throw new DirectoryNotFoundException($"tests/fuzz/corpus above {AppContext.BaseDirectory}");
    }

    public static TheoryData<string, string> Inputs()
    {
        var data = new TheoryData<string, string>();
        foreach (string target in FuzzTargets.All.Keys)
        {
            foreach (string kind in new[] { "corpus", "crashes" })
            {
                string folder = Path.Combine(FuzzDir, kind, target);
                if (!Directory.Exists(folder))
                {
                    continue;
                }

                foreach (string file in Directory.GetFiles(folder).Order(StringComparer.Ordinal))
                {
                    data.Add(target, Path.GetRelativePath(FuzzDir, file));
                }
            }
        }

        return data;
    }

    [Fact]
    public void Every_target_has_a_seed_corpus()
    {
        foreach (string target in FuzzTargets.All.Keys)
        {
            Assert.NotEmpty(Directory.GetFiles(Path.Combine(FuzzDir, "corpus", target)));
        }
    }

    [Theory]
    [MemberData(nameof(Inputs))]
    public void The_input_keeps_the_targets_invariants(string target, string input)
    {
        FuzzTargets.All[target](File.ReadAllBytes(Path.Combine(FuzzDir, input)));
    }
}
