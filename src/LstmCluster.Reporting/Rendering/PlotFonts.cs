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

    private static readonly Dictionary<string, string?> SingleFonts = new(StringComparer.Ordinal);
    private static readonly Dictionary<string, string?> ElementFonts = new(StringComparer.Ordinal);

    /// <summary>
    /// The one installed family that draws all of <paramref name="text"/> when the embedded DejaVu Sans lacks some of its
    /// characters (CJK, emoji, ...); null when DejaVu draws it all, or when no single font does (a label mixing CJK and
    /// emoji, or emoji and Latin letters, which an emoji font lacks: see <see cref="Runs"/>). SkiaSharp's fontconfig-less
    /// build cannot match a character to a font, so the installed families are asked directly (once per text).
    /// </summary>
    public static string? SingleFontFor(string text)
    {
        EnsureInstalled();
        lock (Gate)
        {
            if (SingleFonts.TryGetValue(text, out var known)) return known;
            string? found = null;
            var elements = Elements(text);
            if (Missing(Embedded(), elements).Count > 0)
            {
                foreach (var family in SKFontManager.Default.FontFamilies.Order(StringComparer.Ordinal))
                {
                    using var face = SKTypeface.FromFamilyName(family);
                    if (face is not null && face.FamilyName == family && Missing(face, elements).Count == 0)
                    {
                        found = family;
                        break;
                    }
                }
            }
            SingleFonts[text] = found;
            return found;
        }
    }

    /// <summary>
    /// <paramref name="text"/> cut into runs that one font draws each: DejaVu Sans wherever it has the character, otherwise
    /// the first installed family that has it (a character no font has stays with DejaVu, drawn as its box).
    /// </summary>
    public static IReadOnlyList<(string Text, string Family)> Runs(string text)
    {
        EnsureInstalled();
        var runs = new List<(string Text, string Family)>();
        var embedded = Embedded();
        foreach (var element in Elements(text))
        {
            string family = string.IsNullOrWhiteSpace(element) || embedded.ContainsGlyphs(element) ? Family : FamilyFor(element) ?? Family;
            // Spaces are DejaVu's (an emoji font's space is as wide as an emoji), so "📈 sales" is two runs: "📈" and " sales".
            if (runs.Count > 0 && runs[^1].Family == family)
                runs[^1] = (runs[^1].Text + element, runs[^1].Family);
            else
                runs.Add((element, family));
        }
        return runs;
    }

    private static string? FamilyFor(string element)
    {
        lock (Gate)
        {
            if (ElementFonts.TryGetValue(element, out var known)) return known;
            string? found = null;
            foreach (var family in SKFontManager.Default.FontFamilies.Order(StringComparer.Ordinal))
            {
                using var face = SKTypeface.FromFamilyName(family);
                if (face is not null && face.FamilyName == family && face.ContainsGlyphs(element))
                {
                    found = family;
                    break;
                }
            }
            ElementFonts[element] = found;
            return found;
        }
    }

    /// <summary>
    /// Draws <paramref name="text"/> run by run (<see cref="Runs"/>) on a transparent image of its own size: how a label that
    /// no single font covers still shows every character. ScottPlot draws a label with one typeface, but draws a label's image.
    /// </summary>
    public static ScottPlot.Image DrawRuns(string text, float size, ScottPlot.Color color, bool bold)
    {
        var pieces = new List<(string Text, SKFont Font, float Width)>();
        // The installed fonts' typefaces are this call's to dispose (the embedded one is ScottPlot's cached copy).
        var opened = new List<SKTypeface>();
        try
        {
            float width = 0, ascent = 0, descent = 0;
            foreach (var (run, family) in Runs(text))
            {
                var face = family == Family ? Fonts.GetTypeface(Family, bold, italic: false) : Opened(SKTypeface.FromFamilyName(family, bold ? SKFontStyle.Bold : SKFontStyle.Normal));
                var font = new SKFont(face, size) { Subpixel = true, Edging = SKFontEdging.Antialias };
                float w = font.MeasureText(run);
                font.GetFontMetrics(out var metrics);
                ascent = Math.Max(ascent, -metrics.Ascent);
                descent = Math.Max(descent, metrics.Descent);
                pieces.Add((run, font, w));
                width += w;
            }
            var bitmap = new SKBitmap(Math.Max(1, (int)Math.Ceiling(width)), Math.Max(1, (int)Math.Ceiling(ascent + descent)), SKColorType.Rgba8888, SKAlphaType.Premul);
            using (var canvas = new SKCanvas(bitmap))
            using (var paint = new SKPaint { Color = new SKColor(color.R, color.G, color.B, color.A), IsAntialias = true })
            {
                canvas.Clear(SKColors.Transparent);
                float x = 0;
                foreach (var (run, font, w) in pieces)
                {
                    canvas.DrawText(run, x, ascent, SKTextAlign.Left, font, paint);
                    x += w;
                }
            }
            return new ScottPlot.Image(bitmap);
        }
        finally
        {
            foreach (var piece in pieces) piece.Font.Dispose();
            foreach (var face in opened) face.Dispose();
        }

        SKTypeface Opened(SKTypeface face)
        {
            opened.Add(face);
            return face;
        }
    }

    private static SKTypeface Embedded() => Fonts.GetTypeface(Family, bold: false, italic: false);

    private static List<string> Elements(string text)
    {
        var elements = new List<string>();
        var e = System.Globalization.StringInfo.GetTextElementEnumerator(text);
        while (e.MoveNext()) elements.Add(e.GetTextElement());
        return elements;
    }

    /// <summary>The characters (text elements: an emoji with its modifiers is one) of <paramref name="text"/> that <paramref name="face"/> has no glyph for.</summary>
    private static List<string> Missing(SKTypeface face, IEnumerable<string> elements) =>
        [.. elements.Distinct().Where(e => !string.IsNullOrWhiteSpace(e) && !face.ContainsGlyphs(e))];

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
