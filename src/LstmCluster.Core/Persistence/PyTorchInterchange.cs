using System.Collections;
using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json;
using LstmCluster.Core.Data;
using LstmCluster.Core.Model;
using TorchSharp;
using TorchSharp.PyBridge;
using static TorchSharp.torch;

namespace LstmCluster.Core.Persistence;

/// <summary>A PyTorch state_dict or its preprocessing file cannot be read or does not fit: the message names the file and what is wrong.</summary>
public sealed class InterchangeException(string file, string problem) : Exception($"{file}: {problem}")
{
    public string File { get; } = file;
}

/// <summary>
/// The preprocessing file written beside an exported state_dict (<c>model.json</c>): the network's sizes, which
/// columns of a CSV it reads, and the fitted preprocessing, so that plain PyTorch can go from a CSV's raw values
/// to the forecast in original units (<c>scripts/pytorch_forecast.py</c>), and so that a state_dict trained in
/// PyTorch can be imported with it.
/// </summary>
public sealed record PyTorchModelFile
{
    public const string CurrentFormat = "lstmcluster-pytorch-1";

    public string Format { get; init; } = CurrentFormat;
    /// <summary>What the state_dict belongs to, for a reader of the file; not read back.</summary>
    public string Forward { get; init; } = "head(lstm(x)[0][:, -1, :]) with lstm = nn.LSTM(input_size, hidden_size, num_layers, batch_first=True, dropout), head = nn.Linear(hidden_size, horizon); x [batch, lookback, input_size]";
    public required ModelSpec Model { get; init; }
    /// <summary>Each tensor's name and shape, in state_dict order; informational, import checks against <see cref="Model"/>.</summary>
    public IReadOnlyDictionary<string, long[]>? StateDict { get; init; }
    public required DataSelection Data { get; init; }
    public required Preprocessor Preprocessing { get; init; }
    /// <summary>Seasonal period the model was evaluated with (MASE, seasonal naive).</summary>
    public int Season { get; init; } = 1;
}

/// <summary>
/// Moves a model between a model directory and PyTorch: a <c>state_dict</c> saved the way <c>torch.save</c> does
/// (TorchSharp.PyBridge: a zip holding a pickle and one raw little-endian file per tensor) plus
/// <see cref="PyTorchModelFile"/> as JSON. Tensor names are PyTorch's for <c>lstm</c> = <c>nn.LSTM</c> and
/// <c>head</c> = <c>nn.Linear</c>: <c>lstm.weight_ih_l0</c>, <c>lstm.weight_hh_l0</c>, <c>lstm.bias_ih_l0</c>,
/// <c>lstm.bias_hh_l0</c>, ... per layer, <c>head.weight</c>, <c>head.bias</c>.
/// </summary>
public static class PyTorchInterchange
{
    public static PyTorchModelFile Describe(StoredModel stored)
    {
        if (stored.Spec.IsQuantile)
            throw new InterchangeException("model", QuantileRefusal(stored.Spec, "exported"));
        // The exported snippet feeds the CSV's columns alone; the one-hot series indicator is not part of that format.
        if (stored.Preprocessor.SeriesCount > 0)
            throw new InterchangeException("model", $"a model with a series-id input (--series-id one-hot, series {stored.Preprocessor.SeriesIndex + 1} of {stored.Preprocessor.SeriesCount}) cannot be exported: model.json describes the CSV's columns only; train with --series-id none to export");
        using var model = stored.Build();
        return new PyTorchModelFile
        {
            Model = stored.Spec,
            StateDict = ParameterVector.Layout(model).ToDictionary(s => s.Name, s => s.Shape),
            Data = stored.Metadata.Data,
            Preprocessing = stored.Preprocessor,
            Season = stored.Metadata.Season,
        };
    }

    public static void WriteModelFile(PyTorchModelFile file, string path) =>
        System.IO.File.WriteAllText(path, JsonSerializer.Serialize(file, ModelStore.Json));

    /// <summary>Writes the weights as a PyTorch state_dict (float32, CPU) that <c>torch.load</c> reads.</summary>
    public static void WriteStateDict(StoredModel stored, string path)
    {
        using var model = stored.Build();
        using var scope = torch.NewDisposeScope();
        // Detached copies: the pickler must not see parameters that require grad (PyTorch would rebuild them as such).
        var dict = new Dictionary<string, Tensor>();
        foreach (var (name, t) in model.state_dict()) dict[name] = t.detach().contiguous();
        using var stream = System.IO.File.Create(path);
        PyTorchPickler.PickleStateDict(stream, dict);
    }

    /// <summary>Reads <c>model.json</c>, checking that its parts fit one another.</summary>
    public static PyTorchModelFile ReadModelFile(string path)
    {
        if (!System.IO.File.Exists(path)) throw new InterchangeException(path, "no such file");
        PyTorchModelFile file;
        try
        {
            file = JsonSerializer.Deserialize<PyTorchModelFile>(System.IO.File.ReadAllText(path), ModelStore.Json)
                ?? throw new InterchangeException(path, "is empty (null)");
        }
        catch (JsonException ex)
        {
            throw new InterchangeException(path, $"not a valid preprocessing file: {ex.Message}");
        }
        if (file.Format != PyTorchModelFile.CurrentFormat)
            throw new InterchangeException(path, $"format '{file.Format}' is not supported (this build reads '{PyTorchModelFile.CurrentFormat}')");
        if (file.Model is null || file.Preprocessing is null || file.Data is null)
            throw new InterchangeException(path, "needs 'model', 'data' and 'preprocessing'");
        if (file.Model.IsQuantile)
            throw new InterchangeException(path, QuantileRefusal(file.Model, "imported"));
        if (ModelStore.Mismatch(file.Model, file.Preprocessing, "model", "preprocessing") is { } problem)
            throw new InterchangeException(path, problem);
        if (string.IsNullOrWhiteSpace(file.Data.Target))
            throw new InterchangeException(path, "data.target is empty");
        if (1 + file.Data.Features.Count != file.Model.InputSize)
            throw new InterchangeException(path, $"data reads {1 + file.Data.Features.Count} columns (the target and {file.Data.Features.Count} features), but model.input_size is {file.Model.InputSize}");
        if (file.Season < 1) throw new InterchangeException(path, $"season must be at least 1 (got {file.Season})");
        return file;
    }

    /// <summary>
    /// Reads a state_dict saved with <c>torch.save(model.state_dict(), path)</c> into the flat parameter vector of a
    /// model shaped by <paramref name="spec"/>. Every tensor must be there under its PyTorch name with its shape, and
    /// nothing else; float64 tensors are narrowed to float32.
    /// </summary>
    public static float[] ReadStateDict(string path, ModelSpec spec)
    {
        if (!System.IO.File.Exists(path)) throw new InterchangeException(path, "no such file");
        using var scope = torch.NewDisposeScope();
        var tensors = Unpickle(path);

        using var template = new ForecastModel(spec);
        var layout = ParameterVector.Layout(template);
        // One line: the first wrong tensor in full, the other wrong ones by name, then any the model has no place for.
        var problems = new List<(string Name, string Text)>();
        foreach (var slot in layout)
        {
            if (!tensors.TryGetValue(slot.Name, out var t))
                problems.Add((slot.Name, $"tensor '{slot.Name}' is missing (expected shape {Shape(slot.Shape)} for {Describe(spec)})"));
            else if (!t.shape.SequenceEqual(slot.Shape))
                problems.Add((slot.Name, $"tensor '{slot.Name}' has shape {Shape(t.shape)}, expected {Shape(slot.Shape)} for {Describe(spec)}"));
            else if (t.dtype is not (ScalarType.Float32 or ScalarType.Float64))
                problems.Add((slot.Name, $"tensor '{slot.Name}' holds {t.dtype}, expected float32"));
        }
        var expected = layout.Select(s => s.Name).ToHashSet();
        var unexpected = tensors.Keys.Where(k => !expected.Contains(k)).Order(StringComparer.Ordinal).ToList();
        if (problems.Count > 0 || unexpected.Count > 0)
        {
            var parts = new List<string>();
            if (problems.Count > 0) parts.Add(problems[0].Text);
            if (problems.Count > 1) parts.Add($"also wrong: {string.Join(", ", problems.Skip(1).Select(p => p.Name))}");
            if (unexpected.Count > 0)
            {
                // Names of another module layout (a bare nn.LSTM, DataParallel's "module." prefix) show up here.
                string listed = string.Join(", ", unexpected.Take(4).Select(n => $"'{n}' {Shape(tensors[n].shape)}")) + (unexpected.Count > 4 ? ", ..." : "");
                parts.Add($"unexpected tensor{(unexpected.Count > 1 ? "s" : "")} {listed} (the names are lstm.weight_ih_l0, ..., head.weight, head.bias)");
            }
            throw new InterchangeException(path, string.Join("; ", parts));
        }

        var weights = new float[spec.ParameterCount];
        foreach (var slot in layout)
        {
            var t = tensors[slot.Name].to_type(ScalarType.Float32);
            ParameterVector.CopyTo(t, weights.AsSpan(slot.Offset, slot.Length));
        }
        for (int i = 0; i < weights.Length; i++)
        {
            if (!float.IsFinite(weights[i]))
            {
                var slot = layout.Last(s => s.Offset <= i);
                throw new InterchangeException(path, $"tensor '{slot.Name}' holds a non-finite value (at flat index {i - slot.Offset})");
            }
        }
        return weights;
    }

    /// <summary>A model directory's contents from an imported state_dict and its preprocessing file.</summary>
    public static StoredModel Import(string stateDictPath, string modelFilePath)
    {
        var file = ReadModelFile(modelFilePath);
        var weights = ReadStateDict(stateDictPath, file.Model);
        var provenance = new Dictionary<string, string>
        {
            ["imported_state_dict"] = Path.GetFullPath(stateDictPath),
            ["state_dict_sha256"] = Sha256(stateDictPath),
            ["preprocessing"] = Path.GetFullPath(modelFilePath),
        };
        var metadata = new ModelMetadata
        {
            ProductVersion = typeof(PyTorchInterchange).Assembly.GetName().Version?.ToString() ?? "0",
            TorchSharpVersion = typeof(torch).Assembly.GetName().Version?.ToString() ?? "?",
            CreatedUtc = DateTimeOffset.UtcNow,
            Data = file.Data,
            // Not trained here: no data fingerprint, no epochs; the options record where the weights came from.
            DataSha256 = "",
            DataRows = 0,
            TrainingOptions = JsonSerializer.SerializeToElement(provenance, ModelStore.Json),
            BestEpoch = 0,
            BestValidationLoss = double.NaN,
            Season = file.Season,
        };
        return new StoredModel(file.Model, file.Preprocessing, weights, metadata);
    }

    private static Dictionary<string, Tensor> Unpickle(string path)
    {
        Hashtable table;
        try
        {
            using var stream = System.IO.File.OpenRead(path);
            Span<byte> signature = stackalloc byte[4];
            if (stream.ReadAtLeast(signature, 4, throwOnEndOfStream: false) < 4 || !signature.SequenceEqual("PK\x03\x04"u8))
                throw new InterchangeException(path, "not a PyTorch state_dict: torch.save writes a zip archive, and this file is not one");
            stream.Position = 0;
            table = PyTorchUnpickler.UnpickleStateDict(stream);
        }
        catch (Exception ex) when (ex is not (OutOfMemoryException or InterchangeException))
        {
            // PyBridge reports a legacy (non-zip) file, a whole pickled model or a foreign pickle each its own way.
            string reason = ex is InvalidCastException or InvalidDataException or NullReferenceException or InvalidOperationException
                ? "not a zip archive holding a pickled dict of tensors"
                : ex.Message.Split('\n')[0];
            throw new InterchangeException(path, $"not a PyTorch state_dict saved with torch.save(model.state_dict(), path): {reason}");
        }
        var tensors = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (DictionaryEntry entry in table)
        {
            if (entry.Key is not string name || entry.Value is not Tensor t)
                throw new InterchangeException(path, $"entry '{entry.Key}' is not a named tensor; expected a state_dict (names to tensors)");
            tensors[name] = t;
        }
        return tensors;
    }

    /// <summary>
    /// Why a quantile head does not cross: <c>model.json</c> and <c>scripts/pytorch_forecast.py</c> describe a point head
    /// (horizon outputs), and a PyTorch reader would take the first horizon outputs (the lowest level) for the forecast.
    /// </summary>
    private static string QuantileRefusal(ModelSpec spec, string verb) =>
        $"a quantile model (levels {string.Join(", ", spec.Quantiles!.Select(QuantileLevels.Format))}) cannot be {verb}: the PyTorch interchange carries point models only (train without --quantiles to export)";

    private static string Describe(ModelSpec spec) => string.Create(CultureInfo.InvariantCulture,
        $"input_size {spec.InputSize}, hidden_size {spec.HiddenSize}, num_layers {spec.NumLayers}, horizon {spec.Horizon}");

    private static string Shape(long[] shape) => "[" + string.Join(", ", shape) + "]";

    private static string Sha256(string path)
    {
        using var stream = System.IO.File.OpenRead(path);
        return Convert.ToHexStringLower(SHA256.HashData(stream));
    }
}
