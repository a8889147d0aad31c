using System.Runtime.InteropServices;
using System.Text;
using static DapperIpc.BindingGen.LibClang;

namespace DapperIpc.BindingGen;

/// <summary>Parses a C header with libclang and maps its declarations to a <see cref="HeaderModel"/>.</summary>
public static unsafe class HeaderParser
{
    private static readonly Dictionary<string, string> Primitives = new()
    {
        ["int8_t"] = "sbyte", ["uint8_t"] = "byte", ["int16_t"] = "short", ["uint16_t"] = "ushort",
        ["int32_t"] = "int", ["uint32_t"] = "uint", ["int64_t"] = "long", ["uint64_t"] = "ulong",
        ["size_t"] = "nuint", ["intptr_t"] = "nint", ["uintptr_t"] = "nuint",
        ["char"] = "byte", ["signed char"] = "sbyte", ["unsigned char"] = "byte", ["short"] = "short",
        ["unsigned short"] = "ushort", ["int"] = "int", ["unsigned int"] = "uint", ["long long"] = "long",
        ["unsigned long long"] = "ulong", ["float"] = "float", ["double"] = "double", ["void"] = "void",
    };

    public static HeaderModel Parse(string headerPath)
    {
        string shim = Path.Combine(AppContext.BaseDirectory, "shim");
        // -fparse-all-comments: plain /* */ comments are attached to what follows them (the
        // status strings are read from them).
        string[] args = ["-x", "c", "-std=c99", "-nostdinc", "-isystem", shim, "-fparse-all-comments"];
        void* index = CreateIndex(0, 0);
        try
        {
            void* unit = ParseHeader(index, headerPath, args);
            try
            {
                ThrowOnErrors(unit, headerPath);
                return Build(unit, File.ReadAllText(headerPath));
            }
            finally
            {
                DisposeTranslationUnit(unit);
            }
        }
        finally
        {
            DisposeIndex(index);
        }
    }

    private static void* ParseHeader(void* index, string headerPath, string[] args)
    {
        var pinned = new List<GCHandle>();
        try
        {
            byte*[] argv = new byte*[args.Length];
            for (int i = 0; i < args.Length; i++)
            {
                var h = GCHandle.Alloc(Encoding.UTF8.GetBytes(args[i] + "\0"), GCHandleType.Pinned);
                pinned.Add(h);
                argv[i] = (byte*)h.AddrOfPinnedObject();
            }

            byte[] file = Encoding.UTF8.GetBytes(Path.GetFullPath(headerPath) + "\0");
            fixed (byte* f = file)
            fixed (byte** a = argv)
            {
                void* unit = ParseTranslationUnit(index, f, a, args.Length, null, 0, 0);
                return unit != null ? unit : throw new InvalidOperationException($"libclang could not parse {headerPath}");
            }
        }
        finally
        {
            pinned.ForEach(h => h.Free());
        }
    }

    private static void ThrowOnErrors(void* unit, string headerPath)
    {
        var errors = new List<string>();
        for (uint i = 0; i < GetNumDiagnostics(unit); i++)
        {
            void* d = GetDiagnostic(unit, i);
            if (GetDiagnosticSeverity(d) >= 3)
            {
                errors.Add(Text(FormatDiagnostic(d, 0)));
            }

            DisposeDiagnostic(d);
        }

        if (errors.Count > 0)
        {
            throw new InvalidOperationException($"{headerPath} does not parse:\n" + string.Join("\n", errors));
        }
    }

    [UnmanagedCallersOnly]
    private static int Collect(CXCursor cursor, CXCursor parent, void* data)
    {
        ((List<CXCursor>)GCHandle.FromIntPtr((nint)data).Target!).Add(cursor);
        return VisitContinue;
    }

    private static List<CXCursor> Children(CXCursor cursor)
    {
        var list = new List<CXCursor>();
        var handle = GCHandle.Alloc(list);
        try
        {
            VisitChildren(cursor, &Collect, (void*)GCHandle.ToIntPtr(handle));
        }
        finally
        {
            handle.Free();
        }

        return list;
    }

    private static HeaderModel Build(void* unit, string headerText)
    {
        var top = Children(GetTranslationUnitCursor(unit))
            .Where(c => LocationIsFromMainFile(GetCursorLocation(c)) != 0)
            .ToList();

        // First the names the header itself defines, so types can refer to them.
        var enums = new List<EnumDef>();
        var structs = new List<StructDef>();
        var callbacks = new List<CallbackDef>();
        var known = new Dictionary<string, string>();
        var typedefs = top.Where(c => GetCursorKind(c) == TypedefDecl).ToList();
        foreach (CXCursor t in typedefs)
        {
            known[Text(GetCursorSpelling(t))] = Text(GetCursorSpelling(t));
        }

        foreach (CXCursor t in typedefs)
        {
            string name = Text(GetCursorSpelling(t));
            CXType underlying = Unelaborate(GetTypedefDeclUnderlyingType(t));
            if (underlying.Kind == TypeEnum)
            {
                var members = Children(GetTypeDeclaration(underlying))
                    .Where(c => GetCursorKind(c) == EnumConstantDecl)
                    .Select(c => new EnumMember(Text(GetCursorSpelling(c)), GetEnumConstantDeclValue(c), Comment(c)))
                    .ToList();
                enums.Add(new EnumDef(name, members));
            }
            else if (underlying.Kind == TypeRecord)
            {
                var fields = new List<FieldDef>();
                int layout = 0;
                uint previous = 0;
                foreach (CXCursor c in Children(GetTypeDeclaration(underlying)).Where(c => GetCursorKind(c) == FieldDecl))
                {
                    uint offset = Offset(c);
                    if (previous != 0 && headerText[(int)previous..(int)offset].Contains(LayoutMarker, StringComparison.Ordinal))
                    {
                        layout++;
                    }

                    previous = offset;
                    CXType type = GetCursorType(c);
                    fields.Add(new FieldDef(Text(GetCursorSpelling(c)), Map(type, known), Text(GetTypeSpelling(type)), layout));
                }

                structs.Add(new StructDef(name, fields));
            }
            else if (underlying.Kind == TypePointer && Unelaborate(GetPointeeType(underlying)).Kind == TypeFunctionProto)
            {
                CXType proto = Unelaborate(GetPointeeType(underlying));
                var parameters = Enumerable.Range(0, GetNumArgTypes(proto))
                    .Select(i => Map(GetArgType(proto, (uint)i), known)).ToList();
                callbacks.Add(new CallbackDef(name, Map(GetResultType(proto), known), parameters));
            }
            else
            {
                known.Remove(name); // a plain alias: refer to what it stands for
            }
        }

        var functions = top
            .Where(c => GetCursorKind(c) == FunctionDecl)
            .Select(f => new FunctionDef(
                Text(GetCursorSpelling(f)),
                Map(GetCursorResultType(f), known),
                Children(f).Where(c => GetCursorKind(c) == ParmDecl)
                    .Select(p => new ParameterDef(Text(GetCursorSpelling(p)), Map(GetCursorType(p), known)))
                    .ToList()))
            .ToList();

        return new HeaderModel(enums, structs, callbacks, functions);
    }

    /// <summary>What opens the comment line before the first field a struct gained after its first layout.</summary>
    public const string LayoutMarker = "/* ---- added";

    private static string? Comment(CXCursor cursor)
    {
        string text = Text(GetRawCommentText(cursor));
        return text.Length == 0 ? null : text;
    }

    /// <summary>Where the cursor's name starts, as a character offset into the header (which is ASCII).</summary>
    private static uint Offset(CXCursor cursor)
    {
        uint line, column, offset;
        GetSpellingLocation(GetCursorLocation(cursor), null, &line, &column, &offset);
        return offset;
    }

    private static CXType Unelaborate(CXType type) => type.Kind == TypeElaborated ? GetNamedType(type) : type;

    /// <summary>The C# spelling of a C type: typedef names first (the header's own, then the standard ones).</summary>
    private static string Map(CXType type, Dictionary<string, string> known)
    {
        type = Unelaborate(type);
        if (type.Kind == TypeTypedef)
        {
            string name = Text(GetTypedefName(type));
            if (known.TryGetValue(name, out string? own))
            {
                return own;
            }

            if (Primitives.TryGetValue(name, out string? primitive))
            {
                return primitive;
            }

            return Map(GetTypedefDeclUnderlyingType(GetTypeDeclaration(type)), known);
        }

        if (type.Kind == TypePointer)
        {
            CXType pointee = Unelaborate(GetPointeeType(type));
            if (pointee.Kind == TypeFunctionProto)
            {
                var parameters = Enumerable.Range(0, GetNumArgTypes(pointee)).Select(i => Map(GetArgType(pointee, (uint)i), known));
                return $"delegate* unmanaged<{string.Join(", ", parameters.Append(Map(GetResultType(pointee), known)))}>";
            }

            return Map(pointee, known) + "*";
        }

        string spelling = Text(GetTypeSpelling(type)).Replace("const ", "", StringComparison.Ordinal).Trim();
        if (type.Kind == TypeRecord || type.Kind == TypeEnum)
        {
            spelling = spelling.Replace("struct ", "", StringComparison.Ordinal).Replace("enum ", "", StringComparison.Ordinal);
            return known.TryGetValue(spelling, out string? own) ? own : spelling;
        }

        return Primitives.TryGetValue(spelling, out string? p)
            ? p
            : throw new NotSupportedException($"no C# mapping for the C type '{spelling}'");
    }
}
