using System.Collections;
using System.IO.Compression;
using LstmCluster.Core.Data;
using LstmCluster.Core.Model;
using LstmCluster.Core.Persistence;
using TorchSharp;
using TorchSharp.PyBridge;
using static TorchSharp.torch;

namespace LstmCluster.Core.Tests.Persistence;

/// <summary>
/// The state_dict files export writes and import reads, without Python: names, shapes, round trips and every
/// refusal. That PyTorch itself reads and writes them is tested in the Cli tests (PyTorchInterchangeTests).
/// </summary>
[Collection(TorchCollection.Name)]
public sealed class PyTorchInterchangeTests : IDisposable
{
    private static readonly ModelSpec Spec = new(InputSize: 2, HiddenSize: 8, NumLayers: 2, Horizon: 3);
    private readonly string dir = Directory.CreateTempSubdirectory("lstmcluster-pt-").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    [Fact]
    public void Exported_state_dict_holds_pytorch_names_and_shapes_and_reads_back_to_the_same_weights()
    {
        var stored = Stored(seed: 3);
        string path = Path.Combine(dir, "model.pt");
        PyTorchInterchange.WriteStateDict(stored, path);

        using (var scope = torch.NewDisposeScope())
        {
            var table = PyTorchUnpickler.UnpickleStateDict(path);
            var shapes = table.Cast<DictionaryEntry>().ToDictionary(e => (string)e.Key, e => ((Tensor)e.Value!).shape);
            Assert.Equal(new Dictionary<string, long[]>
            {
                ["lstm.weight_ih_l0"] = [32, 2], ["lstm.weight_hh_l0"] = [32, 8], ["lstm.bias_ih_l0"] = [32], ["lstm.bias_hh_l0"] = [32],
                ["lstm.weight_ih_l1"] = [32, 8], ["lstm.weight_hh_l1"] = [32, 8], ["lstm.bias_ih_l1"] = [32], ["lstm.bias_hh_l1"] = [32],
                ["head.weight"] = [3, 8], ["head.bias"] = [3],
            }, shapes);
        }
        Assert.Equal(stored.Weights, PyTorchInterchange.ReadStateDict(path, Spec));
    }

    [Fact]
    public void Preprocessing_file_round_trips_and_imports_with_the_state_dict_into_a_model_that_loads()
    {
        var stored = Stored(seed: 4);
        string pt = Path.Combine(dir, "model.pt"), json = Path.Combine(dir, "model.json");
        PyTorchInterchange.WriteStateDict(stored, pt);
        PyTorchInterchange.WriteModelFile(PyTorchInterchange.Describe(stored), json);

        var imported = PyTorchInterchange.Import(pt, json);
        Assert.Equal(stored.Spec, imported.Spec);
        Assert.Equal(stored.Weights, imported.Weights);
        Assert.Equal(stored.Preprocessor.Scale, imported.Preprocessor.Scale);
        Assert.Equal(stored.Preprocessor.SeasonalSteps, imported.Preprocessor.SeasonalSteps);
        Assert.Equal(stored.Preprocessor.QuantileOffsets, imported.Preprocessor.QuantileOffsets);
        Assert.Equal(stored.Preprocessor with { Center = [], Scale = [], SeasonalSteps = [], QuantileOffsets = [] },
            imported.Preprocessor with { Center = [], Scale = [], SeasonalSteps = [], QuantileOffsets = [] });
        Assert.Equal(stored.Metadata.Data with { Features = [] }, imported.Metadata.Data with { Features = [] });
        Assert.Equal(stored.Metadata.Data.Features, imported.Metadata.Data.Features);

        string modelDir = Path.Combine(dir, "imported");
        ModelStore.Save(modelDir, imported);
        Assert.Equal(stored.Weights, ModelStore.Load(modelDir).Weights);
    }

    [Fact]
    public void A_state_dict_for_another_hidden_size_is_refused_naming_the_tensor_and_both_shapes()
    {
        string path = Path.Combine(dir, "wide.pt");
        WriteStateDictOf(Spec with { HiddenSize = 16 }, path);
        var ex = Assert.Throws<InterchangeException>(() => PyTorchInterchange.ReadStateDict(path, Spec));
        Assert.StartsWith($"{path}: tensor 'lstm.weight_ih_l0' has shape [64, 2], expected [32, 2] for input_size 2, hidden_size 8", ex.Message);
        Assert.Contains("also wrong: lstm.weight_hh_l0,", ex.Message);
        Assert.DoesNotContain('\n', ex.Message);
    }

    [Fact]
    public void A_state_dict_with_other_names_is_refused_naming_the_missing_and_the_unexpected_tensors()
    {
        string path = Path.Combine(dir, "bare.pt");
        // A bare nn.LSTM's state_dict: weight_ih_l0, ... without the "lstm." prefix, and no head.
        using (var scope = torch.NewDisposeScope())
        {
            using var model = new ForecastModel(Spec);
            var dict = model.state_dict().Where(kv => kv.Key.StartsWith("lstm.", StringComparison.Ordinal))
                .ToDictionary(kv => kv.Key["lstm.".Length..], kv => kv.Value.detach());
            using var stream = File.Create(path);
            PyTorchPickler.PickleStateDict(stream, dict);
        }
        var ex = Assert.Throws<InterchangeException>(() => PyTorchInterchange.ReadStateDict(path, Spec));
        Assert.StartsWith($"{path}: tensor 'lstm.weight_ih_l0' is missing (expected shape [32, 2]", ex.Message);
        Assert.Contains("unexpected tensors 'bias_hh_l0' [32], 'bias_hh_l1' [32]", ex.Message);
        Assert.Contains("head.bias", ex.Message);
    }

    [Fact]
    public void A_state_dict_with_one_tensor_too_many_is_refused_naming_it()
    {
        string path = Path.Combine(dir, "extra.pt");
        using (var scope = torch.NewDisposeScope())
        {
            using var model = new ForecastModel(Spec);
            var dict = model.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.detach());
            dict["head.scale"] = torch.ones(3);
            using var stream = File.Create(path);
            PyTorchPickler.PickleStateDict(stream, dict);
        }
        var ex = Assert.Throws<InterchangeException>(() => PyTorchInterchange.ReadStateDict(path, Spec));
        Assert.StartsWith($"{path}: unexpected tensor 'head.scale' [3]", ex.Message);
    }

    [Fact]
    public void Float64_tensors_are_read_as_float32_and_integer_ones_are_refused()
    {
        var stored = Stored(seed: 5);
        string doubles = Path.Combine(dir, "f64.pt"), ints = Path.Combine(dir, "i64.pt");
        using (var scope = torch.NewDisposeScope())
        {
            using var model = stored.Build();
            var dict = model.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.detach().to_type(ScalarType.Float64));
            using (var stream = File.Create(doubles)) PyTorchPickler.PickleStateDict(stream, dict);
            dict["head.bias"] = torch.zeros(new long[] { 3 }, ScalarType.Int64);
            using (var stream = File.Create(ints)) PyTorchPickler.PickleStateDict(stream, dict);
        }
        Assert.Equal(stored.Weights, PyTorchInterchange.ReadStateDict(doubles, Spec));
        var ex = Assert.Throws<InterchangeException>(() => PyTorchInterchange.ReadStateDict(ints, Spec));
        Assert.Equal($"{ints}: tensor 'head.bias' holds Int64, expected float32", ex.Message);
    }

    [Fact]
    public void A_file_that_is_not_a_state_dict_is_refused_as_such()
    {
        string csv = Path.Combine(dir, "data.csv"), zip = Path.Combine(dir, "other.zip"), empty = Path.Combine(dir, "empty.pt");
        File.WriteAllText(csv, "time,value\n1,2\n");
        using (var archive = ZipFile.Open(zip, ZipArchiveMode.Create))
        using (var writer = new StreamWriter(archive.CreateEntry("readme.txt").Open())) writer.Write("not a model");
        File.WriteAllBytes(empty, []);

        foreach (var path in new[] { csv, empty })
        {
            var ex = Assert.Throws<InterchangeException>(() => PyTorchInterchange.ReadStateDict(path, Spec));
            Assert.Equal($"{path}: not a PyTorch state_dict: torch.save writes a zip archive, and this file is not one", ex.Message);
        }
        var zipEx = Assert.Throws<InterchangeException>(() => PyTorchInterchange.ReadStateDict(zip, Spec));
        Assert.StartsWith($"{zip}: not a PyTorch state_dict saved with torch.save(model.state_dict(), path)", zipEx.Message);
        var missing = Assert.Throws<InterchangeException>(() => PyTorchInterchange.ReadStateDict(Path.Combine(dir, "nope.pt"), Spec));
        Assert.EndsWith("nope.pt: no such file", missing.Message);
    }

    [Fact]
    public void A_preprocessing_file_that_does_not_fit_its_model_is_refused_naming_the_mismatch()
    {
        var good = PyTorchInterchange.Describe(Stored(seed: 6));
        string path = Path.Combine(dir, "model.json");

        PyTorchInterchange.WriteModelFile(good with { Model = good.Model with { InputSize = 3 } }, path);
        var ex = Assert.Throws<InterchangeException>(() => PyTorchInterchange.ReadModelFile(path));
        Assert.Equal($"{path}: preprocessing (2 features, horizon 3) does not match model (3 inputs, horizon 3)", ex.Message);

        PyTorchInterchange.WriteModelFile(good with { Data = good.Data with { Features = [] } }, path);
        ex = Assert.Throws<InterchangeException>(() => PyTorchInterchange.ReadModelFile(path));
        Assert.Equal($"{path}: data reads 1 columns (the target and 0 features), but model.input_size is 2", ex.Message);

        File.WriteAllText(path, """{"format": "lstmcluster-pytorch-1", "model": {"input_size": 2}}""");
        ex = Assert.Throws<InterchangeException>(() => PyTorchInterchange.ReadModelFile(path));
        Assert.StartsWith($"{path}: not a valid preprocessing file:", ex.Message);

        PyTorchInterchange.WriteModelFile(good with { Format = "something-else" }, path);
        ex = Assert.Throws<InterchangeException>(() => PyTorchInterchange.ReadModelFile(path));
        Assert.Contains("format 'something-else' is not supported", ex.Message);
    }

    /// <summary>A model with PyTorch's default (non-zero) initialisation and a hand-made preprocessing of two columns.</summary>
    private static StoredModel Stored(long seed)
    {
        torch.manual_seed(seed);
        using var model = new ForecastModel(Spec);
        var pre = new Preprocessor
        {
            Lookback = 5, Horizon = 3, Features = 2, Transform = TargetTransform.None, Normalize = Normalization.WindowSeasonal,
            Scaler = ScalerKind.Standard, Season = 4, SeasonalSteps = [true, false, true], Center = [0, 0], Scale = [1.5, 2.5],
        };
        var metadata = new ModelMetadata
        {
            ProductVersion = "test", TorchSharpVersion = "test", CreatedUtc = DateTimeOffset.UnixEpoch,
            Data = new DataSelection { Target = "y", Features = ["x"], DateColumn = "when" },
            DataSha256 = "", DataRows = 0, TrainingOptions = default, BestEpoch = 0, BestValidationLoss = 0, Season = 4,
        };
        return new StoredModel(Spec, pre, ParameterVector.Flatten(model), metadata);
    }

    private static void WriteStateDictOf(ModelSpec spec, string path)
    {
        using var scope = torch.NewDisposeScope();
        using var model = new ForecastModel(spec);
        var dict = model.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.detach());
        using var stream = File.Create(path);
        PyTorchPickler.PickleStateDict(stream, dict);
    }
}
