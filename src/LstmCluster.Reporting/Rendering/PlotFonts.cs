using ScottPlot;
using SkiaSharp;

namespace LstmCluster.Reporting.Rendering;

/// <summary>
/// Gives ScottPlot a font that is always there. SkiaSharp's Linux "NoDependencies" native build (the one
/// ScottPlot pulls in) has no fontconfig: it only scans /usr/share/fonts, and where that is empty every
/// label is silently drawn as nothing. Left to itself ScottPlot also picks a serif face on Debian.
/// DejaVu Sans is embedded in the assembly (see Fonts/LICENSE.txt) so that charts look the same on every machine.
/// </summary>
internal static class PlotFonts
{
    public const string Family = "DejaVu Sans";
    private const string RegularResource = "LstmCluster.Reporting.Rendering.Fonts.DejaVuSans.ttf";
    private const string BoldResource = "LstmCluster.Reporting.Rendering.Fonts.DejaVuSans-Bold.ttf";

    private static readonly Lock Gate = new();
    private static bool installed;

    /// <summary>Registers the embedded font with ScottPlot and makes it the default; safe to call repeatedly.</summary>
    public static void EnsureInstalled()
    {
        lock (Gate)
        {
            if (installed) return;
            installed = true;
            var regular = Load(RegularResource);
            if (regular is not null)
            {
                Fonts.FontResolvers.Insert(0, new EmbeddedResolver(regular, Load(BoldResource) ?? regular));
                Fonts.Default = Family;
            }
            else if (SKFontManager.Default.FontFamilies.Contains(Family, StringComparer.OrdinalIgnoreCase))
            {
                // Built without the embedded files: the system copy (Debian's fonts-dejavu-core) still beats ScottPlot's serif pick.
                Fonts.Default = Family;
            }
        }
    }

    private static readonly Dictionary<string, string?> Fallbacks = new(StringComparer.Ordinal);

    /// <summary>
    /// The family to draw <paramref name="text"/> with when the embedded DejaVu Sans lacks some of its characters (CJK, emoji,
    /// ...): the installed font that has the most of them (all, when one does); null when DejaVu has them all or no installed
    /// font has any. SkiaSharp's fontconfig-less build cannot match a character to a font, so the installed families are
    /// asked directly (once per text).
    /// </summary>
    public static string? FallbackFor(string text)
    {
        EnsureInstalled();
        lock (Gate)
        {
            if (Fallbacks.TryGetValue(text, out var known)) return known;
            string? found = null;
            var missing = Missing(Fonts.GetTypeface(Family, bold: false, italic: false), text);
            if (missing.Count > 0)
            {
                int best = 0;
                foreach (var family in SKFontManager.Default.FontFamilies.Order(StringComparer.Ordinal))
                {
                    using var face = SKTypeface.FromFamilyName(family);
                    if (face is null) continue;
                    int covered = missing.Count - Missing(face, missing).Count;
                    if (covered > best)
                    {
                        best = covered;
                        found = family;
                        if (covered == missing.Count) break;
                    }
                }
            }
            Fallbacks[text] = found;
            return found;
        }
    }

    /// <summary>The characters (text elements: an emoji with its modifiers is one) of <paramref name="text"/> that <paramref name="face"/> has no glyph for.</summary>
    private static List<string> Missing(SKTypeface face, IEnumerable<string> elements) =>
        [.. elements.Distinct().Where(e => !string.IsNullOrWhiteSpace(e) && !face.ContainsGlyphs(e))];

    private static List<string> Missing(SKTypeface face, string text)
    {
        var elements = new List<string>();
        var e = System.Globalization.StringInfo.GetTextElementEnumerator(text);
        while (e.MoveNext()) elements.Add(e.GetTextElement());
        return Missing(face, elements);
    }

    private static SKData? Load(string resource)
    {
        using var stream = typeof(PlotFonts).Assembly.GetManifestResourceStream(resource);
        return stream is null ? null : SKData.Create(stream);
    }

    private sealed class EmbeddedResolver(SKData regularFace, SKData boldFace) : IFontResolver
    {
        // A new typeface per call: ScottPlot owns and may dispose what it is given, while the font bytes stay shared.
        // Other names return null so that ScottPlot falls back to the system's fonts for them.
        public SKTypeface? CreateTypeface(string fontName, bool bold, bool italic) =>
            string.Equals(fontName, Family, StringComparison.OrdinalIgnoreCase)
                ? SKTypeface.FromData(bold ? boldFace : regularFace)
                : null;

        public SKTypeface? CreateTypeface(string fontName, FontWeight weight, FontSlant slant, FontSpacing spacing) =>
            CreateTypeface(fontName, weight >= FontWeight.SemiBold, slant != FontSlant.Upright);
    }
}
