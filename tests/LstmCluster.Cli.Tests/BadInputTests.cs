using System.Globalization;
using System.IO.Compression;
using System.Text;

namespace LstmCluster.Cli.Tests;

/// <summary>Bad input and bad output paths: each a clear line and exit 2, found before any training.</summary>
[Collection(CliCollection.Name)]
public sealed class BadInputTests : IDisposable
{
    private readonly string dir = CliRunner.TempDir();

    public void Dispose() => Directory.Delete(dir, recursive: true);

    private static readonly string[] Quick = ["--epochs", "1", "--hidden", "8", "--lookback", "12", "--workers", "0"];

    private static CliRunner.Result Train(string data, string target, string outDir, params string[] more) =>
        CliRunner.Run([.. new[] { "train", "--data", data, "--target", target, "--out", outDir }, .. Quick, .. more]);

    /// <summary>Monthly values from 2015-01 with dates written day-first: every one also reads month-first.</summary>
    private string DayFirstMonthly(int months, string name = "monthly.csv")
    {
        var csv = new StringBuilder("date,value\n");
        for (int k = 0; k < months; k++)
            csv.Append(CultureInfo.InvariantCulture, $"{new DateTime(2015, 1, 1).AddMonths(k):dd/MM/yyyy},{100 + 10 * Math.Sin(k / 2.0) + k}\n");
        var path = Path.Combine(dir, name);
        File.WriteAllText(path, csv.ToString());
        return path;
    }

    private static void OneLine(string error)
    {
        var lines = error.TrimEnd('\n').Split('\n');
        Assert.True(lines.Length == 1, error);
        Assert.StartsWith("error: ", lines[0]);
    }

    // ---- dates ----

    [Fact]
    public void Train_refuses_day_first_dates_that_also_read_month_first_and_reads_them_with_date_format()
    {
        var data = DayFirstMonthly(120);
        var refused = Train(data, "value", Path.Combine(dir, "a"));
        Assert.Equal(2, refused.ExitCode);
        OneLine(refused.Error);
        Assert.Contains("column 'date'", refused.Error);
        Assert.Contains("dd/MM/yyyy", refused.Error);
        Assert.Contains("MM/dd/yyyy", refused.Error);
        Assert.DoesNotContain("epoch", refused.Out);

        var outDir = Path.Combine(dir, "b");
        var r = Train(data, "value", outDir, "--date-format", "dd/MM/yyyy");
        Assert.True(r.ExitCode == 0, r.Error + r.Out);
        Assert.Contains("2015-01-01 .. 2024-12-01", r.Out);
        Assert.StartsWith("1,2025-01-01,", File.ReadAllLines(Path.Combine(outDir, "forecast.csv"))[1]);

        // The model keeps the format: a forecast file whose dates alone would be ambiguous reads the same way.
        var again = Path.Combine(dir, "again.csv");
        var f = CliRunner.Run("forecast", "--model", Path.Combine(outDir, "model"), "--data", DayFirstMonthly(24, "recent.csv"), "--out", again);
        Assert.True(f.ExitCode == 0, f.Error);
        Assert.StartsWith("1,2017-01-01,", File.ReadAllLines(again)[1]);
    }

    [Fact]
    public void Bad_date_format_is_a_usage_error()
    {
        var r = Train(DayFirstMonthly(60), "value", Path.Combine(dir, "a"), "--date-format", "dd/MM/yyyy%");
        Assert.Equal(2, r.ExitCode);
        OneLine(r.Error);
        Assert.Contains("not a date format", r.Error);
    }

    // ---- what messages quote ----

    [Fact]
    public void A_two_megabyte_cell_is_quoted_as_a_bounded_excerpt()
    {
        var data = Path.Combine(dir, "big.csv");
        File.WriteAllText(data, "time,value\n1,1\n2," + new string('7', 2_000_000) + "x\n3,4\n");
        var r = Train(data, "value", Path.Combine(dir, "a"));
        Assert.Equal(2, r.ExitCode);
        OneLine(r.Error);
        Assert.True(r.Error.Length < data.Length + 150, r.Error);
        Assert.Contains("(2,000,001 bytes)", r.Error);
    }

    [Fact]
    public void A_gzip_file_is_refused_as_not_a_utf8_text_csv()
    {
        var data = Path.Combine(dir, "air.csv.gz");
        using (var gz = new GZipStream(File.Create(data), CompressionLevel.Optimal))
            gz.Write(File.ReadAllBytes(CliRunner.Sample("AirPassengers.csv")));
        var r = Train(data, "value", Path.Combine(dir, "a"));
        Assert.Equal(2, r.ExitCode);
        OneLine(r.Error);
        Assert.Contains("not a UTF-8 text CSV", r.Error);
    }

    // ---- output paths ----

    [Fact]
    public void Train_out_that_is_a_file_exits_2_before_training()
    {
        var file = Path.Combine(dir, "taken");
        File.WriteAllText(file, "keep me");
        var r = Train(CliRunner.Sample("AirPassengers.csv"), "value", file);
        Assert.Equal(2, r.ExitCode);
        OneLine(r.Error);
        Assert.Contains("is a file, not a directory", r.Error);
        Assert.DoesNotContain("epoch", r.Out);
        Assert.Equal("keep me", File.ReadAllText(file));
    }

    [Fact]
    public void Train_out_under_a_file_exits_2_before_training()
    {
        var file = Path.Combine(dir, "taken");
        File.WriteAllText(file, "keep me");
        var r = Train(CliRunner.Sample("AirPassengers.csv"), "value", Path.Combine(file, "run"));
        Assert.Equal(2, r.ExitCode);
        OneLine(r.Error);
        Assert.Contains($"{file} is a file", r.Error);
        Assert.DoesNotContain("epoch", r.Out);
    }

    [Fact]
    public void Train_over_an_earlier_run_replaces_its_files_and_leaves_no_staging_folder()
    {
        var outDir = Path.Combine(dir, "run");
        Assert.Equal(0, Train(CliRunner.Sample("AirPassengers.csv"), "value", outDir).ExitCode);
        File.WriteAllText(Path.Combine(outDir, "notes.txt"), "mine");
        File.WriteAllText(Path.Combine(outDir, "model", "stale.bin"), "old");
        var r = Train(CliRunner.Sample("AirPassengers.csv"), "value", outDir, "--seed", "7");
        Assert.True(r.ExitCode == 0, r.Error);
        Assert.Equal("mine", File.ReadAllText(Path.Combine(outDir, "notes.txt")));
        Assert.False(File.Exists(Path.Combine(outDir, "model", "stale.bin")));
        Assert.True(File.Exists(Path.Combine(outDir, "model", "weights.bin")));
        Assert.Empty(Directory.GetFileSystemEntries(dir, ".*"));
        Assert.Empty(Directory.GetFileSystemEntries(outDir, ".*"));
    }

    [Fact]
    public void Forecast_out_refuses_an_existing_file_unless_forced_and_names_a_directory_clearly()
    {
        var outDir = Path.Combine(dir, "run");
        Assert.Equal(0, Train(CliRunner.Sample("AirPassengers.csv"), "value", outDir).ExitCode);
        string[] forecast = ["forecast", "--model", Path.Combine(outDir, "model"), "--data", CliRunner.Sample("AirPassengers.csv"), "--out"];

        var existing = Path.Combine(dir, "mine.csv");
        File.WriteAllText(existing, "keep me");
        var refused = CliRunner.Run([.. forecast, existing]);
        Assert.Equal(2, refused.ExitCode);
        OneLine(refused.Error);
        Assert.Contains("--force", refused.Error);
        Assert.Equal("keep me", File.ReadAllText(existing));

        var forced = CliRunner.Run([.. forecast, existing, "--force"]);
        Assert.True(forced.ExitCode == 0, forced.Error);
        Assert.StartsWith("step,time,forecast", File.ReadAllText(existing));

        var folder = CliRunner.Run([.. forecast, dir]);
        Assert.Equal(2, folder.ExitCode);
        OneLine(folder.Error);
        Assert.Contains("is a directory; give a file name", folder.Error);
        Assert.DoesNotContain("denied", folder.Error);
    }

    [Fact]
    public void An_ensemble_model_forecasts_the_mean_of_its_members_and_export_names_a_member_instead()
    {
        // Two members trained with a fixed normalization each, put together as auto stores an ensemble.
        string data = CliRunner.Sample("AirPassengers.csv");
        var members = new[] { "window", "global" }.Select(n =>
        {
            var outDir = Path.Combine(dir, n);
            var t = Train(data, "value", outDir, "--normalize", n);
            Assert.True(t.ExitCode == 0, t.Error);
            return Path.Combine(outDir, "model");
        }).ToArray();
        var ensemble = Path.Combine(dir, "ensemble");
        for (int i = 0; i < members.Length; i++)
        {
            var target = Directory.CreateDirectory(Path.Combine(ensemble, "members", $"{i + 1}")).FullName;
            foreach (var f in Directory.GetFiles(members[i])) File.Copy(f, Path.Combine(target, Path.GetFileName(f)));
        }
        File.WriteAllText(Path.Combine(ensemble, "ensemble.json"), """{ "combination": "mean", "members": ["members/1", "members/2"], "lead": 1 }""");

        double[] Forecast(string model)
        {
            var outFile = Path.Combine(dir, $"{Path.GetFileName(Path.GetDirectoryName(model))}-{Guid.NewGuid():N}.csv");
            var f = CliRunner.Run("forecast", "--model", model, "--data", data, "--out", outFile);
            Assert.True(f.ExitCode == 0, f.Error);
            return [.. File.ReadAllLines(outFile).Skip(1).Select(l => double.Parse(l.Split(',')[2], CultureInfo.InvariantCulture))];
        }
        var a = Forecast(members[0]);
        var b = Forecast(members[1]);
        var mean = Forecast(ensemble);
        Assert.Equal(a.Length, mean.Length);
        for (int k = 0; k < mean.Length; k++) Assert.Equal((a[k] + b[k]) / 2, mean[k], 1e-6 * Math.Abs(mean[k]) + 1e-9);
        Assert.NotEqual(a, b);

        var export = CliRunner.Run("export", "--model", ensemble, "--out", Path.Combine(dir, "x", "model.pt"));
        Assert.Equal(2, export.ExitCode);
        OneLine(export.Error);
        Assert.Contains("ensemble of 2 models", export.Error);
        Assert.Contains(Path.Combine(ensemble, "members", "1"), export.Error);
    }

    // ---- a run that diverges ----

    [Theory]
    [InlineData("2")]
    [InlineData("0")]
    public void A_diverging_run_ends_in_one_error_line_with_no_akka_entries_or_stack_traces(string workers)
    {
        var r = CliRunner.Run("train", "--data", CliRunner.Sample("AirPassengers.csv"), "--target", "value", "--lr", "10", "--optimizer", "sgd",
            "--clip-norm", "0", "--epochs", "20", "--patience", "0", "--workers", workers, "--out", Path.Combine(dir, "x"));
        Assert.Equal(1, r.ExitCode);
        var errors = r.Error.TrimEnd('\n').Split('\n');
        Assert.Equal("error: " + (workers == "0" ? "" : "training failed: ") + "gradient is not finite (NaN or infinity): the learning rate is probably too high",
            errors[^1]);
        Assert.DoesNotContain("LSTMCLUSTER_DEBUG", r.Error);
        // Akka's own entries ([ERROR][date][thread][path] ... Cause: ... at ...) never reach the command's output.
        Assert.DoesNotContain("[ERROR]", r.Out);
        Assert.DoesNotContain("[WARNING]", r.Out);
        Assert.DoesNotContain("Cause:", r.Out + r.Error);
        Assert.DoesNotContain("   at ", r.Out + r.Error);
        // The parameter server reports a diverged run to its coordinator, below warning level: the error line is all.
        Assert.Single(errors);
        Assert.False(Directory.Exists(Path.Combine(dir, "x")));
    }

    // ---- inspect ----

    [Fact]
    public void Inspect_with_huge_sizes_exits_2_before_calling_torch()
    {
        var r = CliRunner.Run("inspect", "--seq", "100000000", "--batch", "100000000");
        Assert.Equal(2, r.ExitCode);
        OneLine(r.Error);
        Assert.Contains("use smaller sizes", r.Error);
        Assert.Equal("", r.Out);
    }

    [Fact]
    public void Inspect_with_a_size_that_is_not_an_integer_exits_2()
    {
        var r = CliRunner.Run("inspect", "--seq", "1e8");
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("'1e8'", r.Error);
        Assert.DoesNotContain("LSTMCLUSTER_DEBUG", r.Error);
    }
}
