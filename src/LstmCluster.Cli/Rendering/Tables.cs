using System.Globalization;
using Spectre.Console;
using Spectre.Console.Rendering;

namespace LstmCluster.Cli.Rendering;

/// <summary>Terminal tables (Spectre.Console); the caller renders them.</summary>
public static class Tables
{
    /// <summary>
    /// Error metrics of the model (first row) and its baselines. The row with the lowest MASE is the winner:
    /// MASE is scale-free, unlike MAE and RMSE, and defined at zeros, unlike MAPE.
    /// </summary>
    public static Table Metrics(string title, IReadOnlyList<(string Name, double Mae, double Rmse, double Mape, double Smape, double Mase)> rows)
    {
        ArgumentNullException.ThrowIfNull(rows);

        var table = new Table()
            .Border(TableBorder.Rounded)
            .Title(Markup.Escape(title))
            .AddColumn(new TableColumn("Forecaster"))
            .AddColumn(new TableColumn("MAE").RightAligned())
            .AddColumn(new TableColumn("RMSE").RightAligned())
            .AddColumn(new TableColumn("MAPE %").RightAligned())
            .AddColumn(new TableColumn("sMAPE %").RightAligned())
            .AddColumn(new TableColumn("MASE").RightAligned());

        int winner = -1;
        for (int i = 0; i < rows.Count; i++)
        {
            // Strictly lower, so on a tie the earlier row (the model comes first) keeps the win.
            if (double.IsFinite(rows[i].Mase) && (winner < 0 || rows[i].Mase < rows[winner].Mase)) winner = i;
        }

        for (int i = 0; i < rows.Count; i++)
        {
            var r = rows[i];
            bool win = i == winner;
            // The other names get the star's width in spaces so that all names line up.
            string name = (win ? "★ " : "  ") + r.Name;
            string[] cells = [name, FormatNumber(r.Mae), FormatNumber(r.Rmse), FormatNumber(r.Mape), FormatNumber(r.Smape), FormatNumber(r.Mase)];
            table.AddRow(cells.Select(c => (IRenderable)new Markup(win ? $"[bold green]{Markup.Escape(c)}[/]" : Markup.Escape(c))));
        }

        if (winner >= 0) table.Caption("[dim]★ lowest MASE[/]");
        return table;
    }

    /// <summary>Four significant digits without switching to exponents for everyday magnitudes; NaN as an em dash.</summary>
    public static string FormatNumber(double value)
    {
        if (double.IsNaN(value)) return "—";
        if (double.IsPositiveInfinity(value)) return "∞";
        if (double.IsNegativeInfinity(value)) return "-∞";
        if (value == 0) return "0";
        double magnitude = Math.Abs(value);
        if (magnitude >= 1e7 || magnitude < 1e-4) return value.ToString("0.000E+0", CultureInfo.InvariantCulture);
        // Digits before the point count towards the four; large values keep all their integer digits.
        int decimals = Math.Max(0, 3 - (int)Math.Floor(Math.Log10(magnitude)));
        double rounded = Math.Round(value, decimals, MidpointRounding.AwayFromZero);
        // Rounding can carry into a new digit (9.9996 -> 10.000): one decimal fewer keeps four significant digits.
        if (decimals > 0 && Math.Abs(rounded) >= Math.Pow(10, 4 - decimals)) decimals--;
        return value.ToString("F" + decimals.ToString(CultureInfo.InvariantCulture), CultureInfo.InvariantCulture);
    }
}
