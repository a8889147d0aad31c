using DapperIpc.BindingGen;

// dapper-ipc-bindgen <header> <output.cs> [--check]
//   Writes the bindings, or with --check exits 1 when <output.cs> differs from a fresh generation.
if (args.Length < 2)
{
    Console.Error.WriteLine("usage: DapperIpc.BindingGen <header.h> <output.cs> [--check]");
    return 2;
}

string generated = Generator.Generate(args[0]);
if (args.Length > 2 && args[2] == "--check")
{
    bool same = File.Exists(args[1]) && File.ReadAllText(args[1]) == generated;
    Console.WriteLine(same ? $"{args[1]} matches {args[0]}" : $"{args[1]} is stale: regenerate it from {args[0]}");
    return same ? 0 : 1;
}

File.WriteAllText(args[1], generated);
Console.WriteLine($"wrote {args[1]}");
return 0;
