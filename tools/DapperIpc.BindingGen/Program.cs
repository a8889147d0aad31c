using DapperIpc.BindingGen;

// dotnet run --project tools/DapperIpc.BindingGen [-- [--root <repository>] [--out <directory>]]
//   Writes every copy of the header's facts (Generator.Copies) under --out (default: the
//   repository, found from the current directory), at its path in the repository.
string? root = null, output = null;
for (int i = 0; i < args.Length; i++)
{
    switch (args[i])
    {
        case "--root" when i + 1 < args.Length:
            root = args[++i];
            break;
        case "--out" when i + 1 < args.Length:
            output = args[++i];
            break;
        default:
            Console.Error.WriteLine("usage: DapperIpc.BindingGen [--root <repository>] [--out <directory>]");
            Console.Error.WriteLine($"  run at the repository's root: {Generator.Command}");
            return 2;
    }
}

root ??= FindRoot(Directory.GetCurrentDirectory());
if (root is null)
{
    Console.Error.WriteLine($"no {Generator.HeaderPath} here or above: run it in the repository, or pass --root");
    return 2;
}

output ??= root;
foreach (var (path, text) in Generator.GenerateAll(root))
{
    string target = Path.Combine(output, path);
    Directory.CreateDirectory(Path.GetDirectoryName(target)!);
    if (File.Exists(target) && File.ReadAllText(target) == text)
    {
        continue;
    }

    File.WriteAllText(target, text);
    Console.WriteLine($"wrote {target}");
}

return 0;

static string? FindRoot(string directory)
{
    for (DirectoryInfo? d = new(directory); d is not null; d = d.Parent)
    {
        if (File.Exists(Path.Combine(d.FullName, Generator.HeaderPath)))
        {
            return d.FullName;
        }
    }

    return null;
}
