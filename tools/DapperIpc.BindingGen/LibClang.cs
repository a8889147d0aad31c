using System.Runtime.InteropServices;

namespace DapperIpc.BindingGen;

/// <summary>The few libclang C API calls the generator needs (libclang/include/clang-c/Index.h).</summary>
internal static unsafe partial class LibClang
{
    internal const string Lib = "libclang";

    [StructLayout(LayoutKind.Sequential)]
    public struct CXString
    {
        public void* Data;
        public uint Flags;
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct CXCursor
    {
        public int Kind;
        public int XData;
        public void* Data0, Data1, Data2;
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct CXType
    {
        public int Kind;
        public void* Data0, Data1;
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct CXSourceLocation
    {
        public void* Ptr0, Ptr1;
        public uint IntData;
    }

    // CXCursorKind values used here.
    public const int StructDecl = 2, EnumDecl = 5, FieldDecl = 6, EnumConstantDecl = 7, FunctionDecl = 8, ParmDecl = 10, TypedefDecl = 20;

    // CXTypeKind values used here.
    public const int TypeVoid = 2, TypePointer = 101, TypeRecord = 105, TypeEnum = 106, TypeTypedef = 107,
        TypeFunctionProto = 111, TypeElaborated = 119;

    public const int VisitBreak = 0, VisitContinue = 1, VisitRecurse = 2;

    [LibraryImport(Lib, EntryPoint = "clang_createIndex")]
    public static partial void* CreateIndex(int excludeDeclarationsFromPch, int displayDiagnostics);

    [LibraryImport(Lib, EntryPoint = "clang_disposeIndex")]
    public static partial void DisposeIndex(void* index);

    [LibraryImport(Lib, EntryPoint = "clang_parseTranslationUnit")]
    public static partial void* ParseTranslationUnit(void* index, byte* sourceFilename, byte** commandLineArgs,
        int numCommandLineArgs, void* unsavedFiles, uint numUnsavedFiles, uint options);

    [LibraryImport(Lib, EntryPoint = "clang_disposeTranslationUnit")]
    public static partial void DisposeTranslationUnit(void* unit);

    [LibraryImport(Lib, EntryPoint = "clang_getNumDiagnostics")]
    public static partial uint GetNumDiagnostics(void* unit);

    [LibraryImport(Lib, EntryPoint = "clang_getDiagnostic")]
    public static partial void* GetDiagnostic(void* unit, uint index);

    [LibraryImport(Lib, EntryPoint = "clang_getDiagnosticSeverity")]
    public static partial int GetDiagnosticSeverity(void* diagnostic);

    [LibraryImport(Lib, EntryPoint = "clang_formatDiagnostic")]
    public static partial CXString FormatDiagnostic(void* diagnostic, uint options);

    [LibraryImport(Lib, EntryPoint = "clang_disposeDiagnostic")]
    public static partial void DisposeDiagnostic(void* diagnostic);

    [LibraryImport(Lib, EntryPoint = "clang_getTranslationUnitCursor")]
    public static partial CXCursor GetTranslationUnitCursor(void* unit);

    [LibraryImport(Lib, EntryPoint = "clang_visitChildren")]
    public static partial uint VisitChildren(CXCursor parent, delegate* unmanaged<CXCursor, CXCursor, void*, int> visitor, void* clientData);

    [LibraryImport(Lib, EntryPoint = "clang_getCursorKind")]
    public static partial int GetCursorKind(CXCursor cursor);

    [LibraryImport(Lib, EntryPoint = "clang_getCursorSpelling")]
    public static partial CXString GetCursorSpelling(CXCursor cursor);

    [LibraryImport(Lib, EntryPoint = "clang_getCursorType")]
    public static partial CXType GetCursorType(CXCursor cursor);

    [LibraryImport(Lib, EntryPoint = "clang_getCursorResultType")]
    public static partial CXType GetCursorResultType(CXCursor cursor);

    [LibraryImport(Lib, EntryPoint = "clang_getCursorLocation")]
    public static partial CXSourceLocation GetCursorLocation(CXCursor cursor);

    [LibraryImport(Lib, EntryPoint = "clang_Location_isFromMainFile")]
    public static partial int LocationIsFromMainFile(CXSourceLocation location);

    [LibraryImport(Lib, EntryPoint = "clang_getTypedefDeclUnderlyingType")]
    public static partial CXType GetTypedefDeclUnderlyingType(CXCursor cursor);

    [LibraryImport(Lib, EntryPoint = "clang_getEnumConstantDeclValue")]
    public static partial long GetEnumConstantDeclValue(CXCursor cursor);

    [LibraryImport(Lib, EntryPoint = "clang_getTypeSpelling")]
    public static partial CXString GetTypeSpelling(CXType type);

    [LibraryImport(Lib, EntryPoint = "clang_getTypedefName")]
    public static partial CXString GetTypedefName(CXType type);

    [LibraryImport(Lib, EntryPoint = "clang_getPointeeType")]
    public static partial CXType GetPointeeType(CXType type);

    [LibraryImport(Lib, EntryPoint = "clang_getResultType")]
    public static partial CXType GetResultType(CXType type);

    [LibraryImport(Lib, EntryPoint = "clang_getNumArgTypes")]
    public static partial int GetNumArgTypes(CXType type);

    [LibraryImport(Lib, EntryPoint = "clang_getArgType")]
    public static partial CXType GetArgType(CXType type, uint index);

    [LibraryImport(Lib, EntryPoint = "clang_Type_getNamedType")]
    public static partial CXType GetNamedType(CXType type);

    [LibraryImport(Lib, EntryPoint = "clang_getTypeDeclaration")]
    public static partial CXCursor GetTypeDeclaration(CXType type);

    [LibraryImport(Lib, EntryPoint = "clang_isConstQualifiedType")]
    public static partial uint IsConstQualifiedType(CXType type);

    [LibraryImport(Lib, EntryPoint = "clang_Cursor_getRawCommentText")]
    public static partial CXString GetRawCommentText(CXCursor cursor);

    [LibraryImport(Lib, EntryPoint = "clang_getSpellingLocation")]
    public static partial void GetSpellingLocation(CXSourceLocation location, void** file, uint* line, uint* column, uint* offset);

    [LibraryImport(Lib, EntryPoint = "clang_getCString")]
    public static partial byte* GetCString(CXString s);

    [LibraryImport(Lib, EntryPoint = "clang_disposeString")]
    public static partial void DisposeString(CXString s);

    public static string Text(CXString s)
    {
        try
        {
            return Marshal.PtrToStringUTF8((nint)GetCString(s)) ?? string.Empty;
        }
        finally
        {
            DisposeString(s);
        }
    }
}
