using LstmCluster.Core.Data;
using LstmCluster.Core.Forecasting;

namespace LstmCluster.Core.Tests.Data;

public sealed class SeriesSelectionTests : IDisposable
{
    private readonly string dir = Directory.CreateTempSubdirectory("lstmcluster-series-").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    /// <summary>Three symbols interleaved the way exports often are (not grouped), one with blank symbol cells left out.</summary>
    private string LongFile()
    {
        string path = Path.Combine(dir, "long.csv");
        File.WriteAllLines(path,
        [
            "symbol,date,price",
            "MSFT,2000-01-01,39.81", "AMZN,2000-01-01,64.56", "MSFT,2000-02-01,36.35", "IBM,2000-01-01,100.52",
            "AMZN,2000-02-01,68.87", "MSFT,2000-03-01,43.22", "IBM,2000-02-01,92.11", ",2000-02-01,1", "IBM,2000-03-01,106.11",
        ]);
        return path;
    }

    private static CsvSeriesOptions Options(string path) => new() { Path = path, Target = "price" };

    [Theory]
    [InlineData("all", true)]
    [InlineData(" ALL ", true)]
    [InlineData("MSFT,IBM", true)]
    [InlineData("MSFT", false)]
    [InlineData(null, false)]
    public void All_or_a_comma_list_names_several_series(string? symbol, bool many) => Assert.Equal(many, SeriesSelection.IsMany(symbol));

    [Fact]
    public void Symbols_are_listed_in_the_order_they_first_appear_with_their_row_counts()
    {
        var symbols = CsvSeriesLoader.Symbols(Options(LongFile()));
        Assert.Equal([new SymbolRows("MSFT", 3), new SymbolRows("AMZN", 2), new SymbolRows("IBM", 3)], symbols);
    }

    [Fact]
    public void All_takes_every_symbol_and_a_list_keeps_its_order_and_the_files_spelling_once_each()
    {
        var path = LongFile();
        var available = CsvSeriesLoader.Symbols(Options(path));
        Assert.Equal(["MSFT", "AMZN", "IBM"], SeriesSelection.Resolve("all", available, path));
        Assert.Equal(["IBM", "MSFT"], SeriesSelection.Resolve("ibm, MSFT,ibm", available, path));
    }

    [Fact]
    public void An_unknown_symbol_in_a_list_is_refused_naming_it_and_the_symbols_there_are()
    {
        var path = LongFile();
        var e = Assert.Throws<DataException>(() => SeriesSelection.Resolve("MSFT,GOOG,XYZ", CsvSeriesLoader.Symbols(Options(path)), path));
        Assert.Contains("unknown symbols 'GOOG', 'XYZ'; symbols are: MSFT, AMZN, IBM", e.Message);
    }

    [Fact]
    public void A_file_without_the_symbol_column_is_refused_naming_its_columns()
    {
        string path = Path.Combine(dir, "wide.csv");
        File.WriteAllLines(path, ["date,price", "2000-01-01,1", "2000-02-01,2"]);
        var e = Assert.Throws<DataException>(() => CsvSeriesLoader.Symbols(Options(path)));
        Assert.Contains("no symbol column 'symbol'", e.Message);
        Assert.Contains("date, price", e.Message);
    }

    [Fact]
    public void Loading_several_series_at_once_is_refused_saying_how_to_train_them()
    {
        var e = Assert.Throws<DataException>(() => CsvSeriesLoader.Load(Options(LongFile()) with { Symbol = "all" }));
        Assert.Contains("--symbol all names several series", e.Message);
    }

    [Fact]
    public void Each_member_of_a_list_loads_its_own_rows_and_is_normalized_on_its_own_training_split()
    {
        // Two series at very different levels, interleaved row by row: each member must see its rows only, and a scaler
        // fitted on its own training split (never the other series', never across the boundary between them).
        string path = Path.Combine(dir, "two.csv");
        var lines = new List<string> { "symbol,date,value" };
        var start = new DateTime(2020, 1, 1);
        for (int i = 0; i < 60; i++)
        {
            lines.Add($"LOW,{start.AddDays(i):yyyy-MM-dd},{1 + 0.01 * i}");
            lines.Add($"HIGH,{start.AddDays(i):yyyy-MM-dd},{1000 + 10 * i}");
        }
        File.WriteAllLines(path, lines);
        var options = new CsvSeriesOptions { Path = path, Target = "value" };
        var prep = new PreprocessingOptions { Lookback = 5, Normalize = Normalization.Global };
        var data = SeriesSelection.Resolve("all", CsvSeriesLoader.Symbols(options), path)
            .ToDictionary(s => s, s => PreparedData.Build(CsvSeriesLoader.Load(options with { Symbol = s }), prep));

        Assert.Equal(60, data["LOW"].Series.Length);
        Assert.All(data["LOW"].Series.Target, v => Assert.InRange(v, 1, 2));
        Assert.All(data["HIGH"].Series.Target, v => Assert.InRange(v, 1000, 2000));
        // Each scaler's centre is its own training split's mean.
        Assert.Equal(data["LOW"].Series.Target.Take(data["LOW"].Split.TrainEnd).Average(), data["LOW"].Preprocessor.Center[0], 9);
        Assert.Equal(data["HIGH"].Series.Target.Take(data["HIGH"].Split.TrainEnd).Average(), data["HIGH"].Preprocessor.Center[0], 6);
    }
}
