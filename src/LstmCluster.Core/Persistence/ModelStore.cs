using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Serialization;
using LstmCluster.Core.Data;
using LstmCluster.Core.Model;

namespace LstmCluster.Core.Persistence;

/// <summary>A model directory could not be read: missing, corrupt or not matching itself.</summary>
public sealed class ModelFileException(string directory, string problem)
    : Exception($"{directory}: {problem}")
{
    public string Directory { get; } = directory;

    /// <summary>What is wrong, without the directory (a server answers without its paths).</summary>
    public string Problem { get; } = problem;
}

/// <summary>How the model's input columns are read from a CSV file, so `forecast` needs only the file.</summary>
public sealed record DataSelection
{
    public required string Target { get; init; }
    public IReadOnlyList<string> Features { get; init; } = [];
    public string? Symbol { get; init; }
    public string SymbolColumn { get; init; } = "symbol";
    public string? DateColumn { get; init; }
    /// <summary>The date format training read the file with, so that a short forecast file whose dates fit both day-first and month-first is read the same way.</summary>
    public string? DateFormat { get; init; }
    [JsonConverter(typeof(JsonStringEnumConverter<MissingPolicy>))]
    public MissingPolicy Missing { get; init; } = MissingPolicy.Ffill;
    /// <summary>How training resolved rows sharing a time and whether it sorted them: a forecast file is read the same way.</summary>
    public DuplicatePolicy OnDuplicate { get; init; } = DuplicatePolicy.Error;
    public bool Sort { get; init; }

    public CsvSeriesOptions ForFile(string path) => new()
    {
        Path = path,
        Target = Target,
        Features = Features,
        Symbol = Symbol,
        SymbolColumn = SymbolColumn,
        DateColumn = DateColumn,
        DateFormat = DateFormat,
        Missing = Missing,
        OnDuplicate = OnDuplicate,
        Sort = Sort,
    };

    public static DataSelection From(CsvSeriesOptions o) => new()
    {
        Target = o.Target,
        Features = o.Features,
        Symbol = o.Symbol,
        SymbolColumn = o.SymbolColumn,
        DateColumn = o.DateColumn,
        DateFormat = o.DateFormat,
        Missing = o.Missing,
        OnDuplicate = o.OnDuplicate,
        Sort = o.Sort,
    };
}

/// <summary>Provenance of a model: versions, options and a fingerprint of the data it was trained on.</summary>
public sealed record ModelMetadata
{
    public int FormatVersion { get; init; } = ModelStore.FormatVersion;
    public required string ProductVersion { get; init; }
    public required string TorchSharpVersion { get; init; }
    public required DateTimeOffset CreatedUtc { get; init; }
    public required DataSelection Data { get; init; }
    public required string DataSha256 { get; init; }
    public required int DataRows { get; init; }
    public required JsonElement TrainingOptions { get; init; }
    public required int BestEpoch { get; init; }
    public required double BestValidationLoss { get; init; }
    public required int Season { get; init; }
    public string WeightsSha256 { get; init; } = "";
}

/// <summary>A model as stored: rebuild the network, load weights, and map data in and out.</summary>
public sealed record StoredModel(ModelSpec Spec, Preprocessor Preprocessor, float[] Weights, ModelMetadata Metadata)
{
    /// <summary>
    /// For an ensemble (<see cref="Forecasting.Ensemble"/>): its members, whose forecasts it averages; empty for a single
    /// model. The ensemble's own spec, preprocessing, weights and metadata are its lead member's, which it was chosen beside;
    /// forecast through <see cref="Forecasting.ModelNetworks"/>, which uses every member.
    /// </summary>
    public IReadOnlyList<StoredModel> Members { get; init; } = [];

    /// <summary>
    /// An ensemble's interval calibration, original units, [level][step]: added to the mean of its members' levels
    /// (<see cref="Forecasting.Ensemble.Calibrate"/>); null without quantiles.
    /// </summary>
    public double[][]? EnsembleOffsets { get; init; }

    public bool IsEnsemble => Members.Count > 0;

    public ForecastModel Build()
    {
        var model = new ForecastModel(Spec);
        ParameterVector.Load(model, Weights);
        return model;
    }
}

/// <summary>
/// Reads and writes a model directory: <c>spec.json</c>, <c>preprocessing.json</c> (scaler,
/// transform, normalization), <c>weights.bin</c> (magic, count, little-endian float32) and
/// <c>metadata.json</c>. Loading checks every part against the others and names what is wrong.
/// </summary>
/// <remarks>
/// Format 2 (<see cref="FormatVersion"/>) gives a quantile model a point head trained on the mean squared error and an
/// offset head (<see cref="QuantileHead.PointOffsets"/>); format 1 had one pinball-trained head whose 0.5 level was the
/// point forecast. A format 1 quantile model loads with that layout (<see cref="QuantileHead.Median"/>) and forecasts what
/// it did; a format 1 point model is the same as a format 2 one.
/// </remarks>
public static class ModelStore
{
    public const int FormatVersion = 2;

    /// <summary>The oldest format <see cref="Load"/> reads.</summary>
    public const int OldestFormatVersion = 1;
    private static readonly byte[] Magic = "LSTMW001"u8.ToArray();

    public static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    /// <summary>What marks an ensemble's directory, and lists its members' directories (<see cref="EnsembleFile"/>).</summary>
    public const string EnsembleFileName = "ensemble.json";

    /// <summary>
    /// An ensemble's <c>ensemble.json</c>: how its members combine (the mean), their directories relative to it
    /// (<c>members/1</c> …, each a model directory of its own) and which of them leads (gives the ensemble's metadata).
    /// </summary>
    /// <param name="QuantileOffsets">With quantiles: what the ensemble adds to each level's mean, [level][step], original units.</param>
    public sealed record EnsembleFile(string Combination, string[] Members, int Lead, double[][]? QuantileOffsets = null);

    /// <summary>
    /// Writes <paramref name="model"/> to <paramref name="directory"/>: its files, or for an ensemble <c>ensemble.json</c>
    /// and one model directory per member under <c>members/</c>.
    /// </summary>
    public static void Save(string directory, StoredModel model)
    {
        System.IO.Directory.CreateDirectory(directory);
        if (model.IsEnsemble)
        {
            var names = model.Members.Select((_, i) => $"members/{i + 1}").ToArray();
            for (int i = 0; i < names.Length; i++) Save(Path.Combine(directory, names[i]), model.Members[i]);
            int lead = Math.Max(0, model.Members.Select((m, i) => ReferenceEquals(m.Weights, model.Weights) ? i : -1).Max());
            File.WriteAllText(Path.Combine(directory, EnsembleFileName), JsonSerializer.Serialize(new EnsembleFile("mean", names, lead, model.EnsembleOffsets), Json));
            return;
        }
        var weights = EncodeWeights(model.Weights);
        File.WriteAllBytes(Path.Combine(directory, "weights.bin"), weights);
        File.WriteAllText(Path.Combine(directory, "spec.json"), JsonSerializer.Serialize(model.Spec, Json));
        File.WriteAllText(Path.Combine(directory, "preprocessing.json"), JsonSerializer.Serialize(model.Preprocessor, Json));
        var metadata = model.Metadata with { FormatVersion = FormatVersion, WeightsSha256 = Convert.ToHexStringLower(SHA256.HashData(weights)) };
        File.WriteAllText(Path.Combine(directory, "metadata.json"), JsonSerializer.Serialize(metadata, Json));
    }

    public static StoredModel Load(string directory)
    {
        if (!System.IO.Directory.Exists(directory))
            throw new ModelFileException(directory, "no such model directory");
        if (File.Exists(Path.Combine(directory, EnsembleFileName))) return LoadEnsemble(directory);
        var spec = ReadJson<ModelSpec>(directory, "spec.json");
        var pre = ReadJson<Preprocessor>(directory, "preprocessing.json");
        var meta = ReadJson<ModelMetadata>(directory, "metadata.json");
        if (meta.FormatVersion is < OldestFormatVersion or > FormatVersion)
            throw new ModelFileException(directory, $"model format {meta.FormatVersion} is not supported (this build reads {OldestFormatVersion} to {FormatVersion})");
        // Format 1 knew one quantile layout and did not write it down.
        if (meta.FormatVersion == 1 && spec.IsQuantile) spec = spec with { QuantileHead = QuantileHead.Median };
        if (Mismatch(spec, pre, "spec.json", "preprocessing.json") is { } problem)
            throw new ModelFileException(directory, problem);

        var path = Path.Combine(directory, "weights.bin");
        if (!File.Exists(path)) throw new ModelFileException(directory, "weights.bin is missing");
        var bytes = File.ReadAllBytes(path);
        if (meta.WeightsSha256.Length > 0 && Convert.ToHexStringLower(SHA256.HashData(bytes)) != meta.WeightsSha256)
            throw new ModelFileException(directory, "weights.bin is corrupt (checksum does not match metadata.json)");
        var weights = DecodeWeights(directory, bytes);
        if (weights.Length != spec.ParameterCount)
            throw new ModelFileException(directory, $"weights.bin holds {weights.Length} values, but spec.json describes a model with {spec.ParameterCount}");
        return new StoredModel(spec, pre, weights, meta);
    }

    /// <summary>An ensemble's directory: every member loaded and checked, and checked against the others.</summary>
    private static StoredModel LoadEnsemble(string directory)
    {
        var file = ReadJson<EnsembleFile>(directory, EnsembleFileName);
        if (file.Combination != "mean")
            throw new ModelFileException(directory, $"{EnsembleFileName}: combination '{file.Combination}' is not supported (this build averages: mean)");
        if (file.Members is not { Length: >= 2 })
            throw new ModelFileException(directory, $"{EnsembleFileName} lists {file.Members?.Length ?? 0} members; an ensemble has at least 2");
        if (file.Lead < 0 || file.Lead >= file.Members.Length)
            throw new ModelFileException(directory, $"{EnsembleFileName}: lead {file.Lead} is not one of its {file.Members.Length} members");
        var root = Path.GetFullPath(directory) + Path.DirectorySeparatorChar;
        var members = file.Members.Select(name =>
        {
            var path = Path.GetFullPath(Path.Combine(directory, name));
            // Only directories inside the ensemble's own: a crafted file must not point a server at another folder.
            if (!path.StartsWith(root, StringComparison.Ordinal))
                throw new ModelFileException(directory, $"{EnsembleFileName}: member '{name}' is outside the model directory");
            if (File.Exists(Path.Combine(path, EnsembleFileName)))
                throw new ModelFileException(directory, $"{EnsembleFileName}: member '{name}' is an ensemble itself");
            return Load(path);
        }).ToArray();
        var lead = members[file.Lead];
        for (int i = 0; i < members.Length; i++)
        {
            var m = members[i];
            if (m.Spec.Horizon != lead.Spec.Horizon || m.Spec.InputSize != lead.Spec.InputSize || m.Preprocessor.Features != lead.Preprocessor.Features
                || !(m.Spec.Quantiles ?? []).SequenceEqual(lead.Spec.Quantiles ?? []))
                throw new ModelFileException(directory, $"member '{file.Members[i]}' forecasts other steps, inputs or levels than member '{file.Members[file.Lead]}'");
        }
        if (file.QuantileOffsets is { } offsets
            && (offsets.Length != lead.Spec.QuantileCount || offsets.Any(o => o is null || o.Length != lead.Spec.Horizon || o.Any(v => !double.IsFinite(v)))))
            throw new ModelFileException(directory, $"{EnsembleFileName}: quantile_offsets is not {lead.Spec.QuantileCount} levels × {lead.Spec.Horizon} finite steps");
        return lead with { Members = members, EnsembleOffsets = file.QuantileOffsets };
    }

    /// <summary>
    /// Why <paramref name="spec"/> and <paramref name="pre"/> cannot make a model together (an absurd size, a
    /// preprocessing for other inputs or another horizon, a bad scaler), or null. The names say where each came from.
    /// </summary>
    public static string? Mismatch(ModelSpec spec, Preprocessor pre, string specName, string preName)
    {
        try { spec.Validate(); }
        catch (ArgumentException ex) { return $"{specName}: {ex.Message}"; }
        if (pre.SeriesCount < 0 || pre.SeriesCount > 0 && (pre.SeriesIndex < 0 || pre.SeriesIndex >= pre.SeriesCount))
            return $"{preName}: series_index {pre.SeriesIndex} is not one of series_count {pre.SeriesCount}";
        if (pre.InputSize != spec.InputSize || pre.Horizon != spec.Horizon)
            return $"{preName} ({pre.Features} features{(pre.SeriesCount > 0 ? $" + {pre.SeriesCount} series ids" : "")}, horizon {pre.Horizon}) does not match {specName} ({spec.InputSize} inputs, horizon {spec.Horizon})";
        if (pre.Lookback < 1)
            return $"{preName}: lookback must be at least 1 (got {pre.Lookback})";
        if (pre.Center is null || pre.Scale is null || pre.Center.Length != pre.Features || pre.Scale.Length != pre.Features
            || pre.Scale.Any(s => !(s > 0) || !double.IsFinite(s)) || pre.Center.Any(c => !double.IsFinite(c)))
            return $"{preName}: scaler has the wrong number of columns or a non-positive scale";
        var offsets = pre.QuantileOffsets ?? [];
        if (offsets.Length > 0 && (offsets.Length != spec.QuantileCount || offsets.Any(o => o is null || o.Length != spec.Horizon || o.Any(v => !double.IsFinite(v)))))
            return $"{preName}: quantile_offsets must hold {spec.QuantileCount} rows of {spec.Horizon} finite values (one per level and step of {specName})";
        return null;
    }

    private static T ReadJson<T>(string directory, string file)
    {
        var path = Path.Combine(directory, file);
        if (!File.Exists(path)) throw new ModelFileException(directory, $"{file} is missing");
        try
        {
            return JsonSerializer.Deserialize<T>(File.ReadAllText(path), Json)
                ?? throw new ModelFileException(directory, $"{file} is empty");
        }
        catch (JsonException ex)
        {
            throw new ModelFileException(directory, $"{file} is not valid: {ex.Message}");
        }
    }

    private static byte[] EncodeWeights(float[] weights)
    {
        var bytes = new byte[Magic.Length + 4 + weights.Length * 4];
        Magic.CopyTo(bytes, 0);
        BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(Magic.Length), weights.Length);
        for (int i = 0; i < weights.Length; i++)
            BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(Magic.Length + 4 + i * 4), weights[i]);
        return bytes;
    }

    private static float[] DecodeWeights(string directory, byte[] bytes)
    {
        if (bytes.Length < Magic.Length + 4 || !bytes.AsSpan(0, Magic.Length).SequenceEqual(Magic))
            throw new ModelFileException(directory, "weights.bin is not an LstmCluster weights file");
        int count = BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(Magic.Length));
        if (count < 0 || bytes.Length != Magic.Length + 4 + (long)count * 4)
            throw new ModelFileException(directory, $"weights.bin is truncated or padded ({bytes.Length} bytes for {count} values)");
        var weights = new float[count];
        for (int i = 0; i < count; i++)
        {
            weights[i] = BinaryPrimitives.ReadSingleLittleEndian(bytes.AsSpan(Magic.Length + 4 + i * 4));
            if (!float.IsFinite(weights[i])) throw new ModelFileException(directory, $"weights.bin holds a non-finite value at {i}");
        }
        return weights;
    }
}
