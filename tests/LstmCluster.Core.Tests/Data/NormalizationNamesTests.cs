using LstmCluster.Core.Configuration;
using LstmCluster.Core.Data;

namespace LstmCluster.Core.Tests.Data;

public sealed class NormalizationNamesTests
{
    [Fact]
    public void Every_normalization_has_one_spelling_that_reads_back_as_itself()
    {
        foreach (var n in Enum.GetValues<Normalization>()) Assert.Equal(n, NormalizationNames.Parse(NormalizationNames.Name(n)));
        Assert.Equal(Enum.GetValues<Normalization>().Length, NormalizationNames.All.Distinct().Count());
        Assert.Equal("window-seasonal", NormalizationNames.Name(Normalization.WindowSeasonal));
        Assert.Equal("window-scaled", NormalizationNames.Name(Normalization.WindowScaled));
    }

    [Fact]
    public void Auto_and_unknown_words_are_no_normalization_and_the_options_offer_auto_first()
    {
        Assert.Null(NormalizationNames.Parse("auto"));
        Assert.Null(NormalizationNames.Parse("Window"));
        Assert.Equal(["auto", "window", "window-seasonal", "window-scaled", "global"], RunOptionValues.NormalizeChoices);
    }
}
