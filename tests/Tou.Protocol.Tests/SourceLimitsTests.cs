using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace Tou.Protocol.Tests;

/// <summary>
/// The house rules a newcomer relies on, checked over every source file in src/: one top-level type per file,
/// no file over 600 lines, no method (or constructor, accessor, local function) over 80 lines.
/// </summary>
public class SourceLimitsTests
{
    private const int MaxFileLines = 600;
    private const int MaxMethodLines = 80;

    private static IEnumerable<string> SourceFiles()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Tou.Kestrel.sln")))
        {
            dir = dir.Parent;
        }

        Assert.NotNull(dir);
        var src = Path.Combine(dir.FullName, "src");
        return Directory.EnumerateFiles(src, "*.cs", SearchOption.AllDirectories)
            .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}") && !f.Contains($"{Path.DirectorySeparatorChar}bin{Path.DirectorySeparatorChar}"))
            .Order();
    }

    [Fact]
    public void No_source_file_is_over_600_lines()
    {
        var files = SourceFiles().ToList();
        Assert.NotEmpty(files);
        var tooLong = files.Select(f => (File: f, Lines: File.ReadAllLines(f).Length)).Where(f => f.Lines > MaxFileLines).Select(f => $"{f.File}: {f.Lines}");
        Assert.True(!tooLong.Any(), string.Join(Environment.NewLine, tooLong));
    }

    [Fact]
    public void No_method_is_over_80_lines()
    {
        var tooLong = new List<string>();
        foreach (var file in SourceFiles())
        {
            var root = CSharpSyntaxTree.ParseText(File.ReadAllText(file)).GetRoot();
            foreach (var node in root.DescendantNodes().Where(n => n is BaseMethodDeclarationSyntax or AccessorDeclarationSyntax or LocalFunctionStatementSyntax))
            {
                var span = node.GetLocation().GetLineSpan();
                int lines = span.EndLinePosition.Line - span.StartLinePosition.Line + 1;
                if (lines > MaxMethodLines)
                {
                    tooLong.Add($"{file}:{span.StartLinePosition.Line + 1} {Name(node)}: {lines} lines");
                }
            }
        }

        Assert.True(!tooLong.Any(), string.Join(Environment.NewLine, tooLong));
    }

    [Fact]
    public void Each_file_holds_one_top_level_type()
    {
        var crowded = new List<string>();
        foreach (var file in SourceFiles())
        {
            var root = CSharpSyntaxTree.ParseText(File.ReadAllText(file)).GetRoot();
            var types = root.DescendantNodes().OfType<MemberDeclarationSyntax>()
                .Where(n => n is BaseTypeDeclarationSyntax or DelegateDeclarationSyntax && n.Parent is BaseNamespaceDeclarationSyntax or CompilationUnitSyntax)
                .ToList();
            if (types.Count > 1)
            {
                crowded.Add($"{file}: {types.Count} types");
            }
        }

        Assert.True(crowded.Count == 0, string.Join(Environment.NewLine, crowded));
    }

    private static string Name(SyntaxNode node) => node switch
    {
        MethodDeclarationSyntax m => m.Identifier.Text,
        ConstructorDeclarationSyntax c => c.Identifier.Text + " (constructor)",
        LocalFunctionStatementSyntax l => l.Identifier.Text + " (local function)",
        AccessorDeclarationSyntax a => a.Keyword.Text + " accessor",
        _ => node.Kind().ToString(),
    };
}
