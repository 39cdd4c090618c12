using LstmCluster.Core.Configuration;

namespace LstmCluster.Core.Tests.Configuration;

public sealed class RunOptionValuesTests
{
    private static readonly RunOptionValues Base = new() { Data = "x.csv", Target = "y" };

    [Fact]
    public void Epochs_auto_is_the_default_and_trains_within_max_epochs_with_the_plateau_rule()
    {
        var run = Base.ToRunOptions();
        Assert.True(run.Training.AutoEpochs);
        Assert.Equal(1000, run.Training.Epochs);
        Assert.Equal(10, run.Training.Patience);
        Assert.Equal(4, run.Training.LrPlateau);
        Assert.Equal(0.001, run.Training.MinDelta);
        Assert.Equal(TimeSpan.Zero, run.Training.MaxTime);
        var capped = Base.With("max-epochs", "40").With("max_time", "10m").ToRunOptions();
        Assert.Equal(40, capped.Training.Epochs);
        Assert.Equal(TimeSpan.FromMinutes(10), capped.Training.MaxTime);
    }

    [Fact]
    public void A_fixed_epoch_count_is_not_auto()
    {
        var run = Base.With("epochs", "25").ToRunOptions();
        Assert.False(run.Training.AutoEpochs);
        Assert.Equal(25, run.Training.Epochs);
    }

    [Theory]
    [InlineData("epochs", "many", "epochs must be 'auto' or an integer (got 'many')")]
    [InlineData("max-time", "ten minutes", "max-time must be a duration such as 90s, 10m or 2h, or none (got 'ten minutes')")]
    [InlineData("max-time", "-5s", "max-time must be a duration")]
    public void Bad_epoch_and_time_values_name_the_option(string name, string text, string message)
    {
        var e = Assert.Throws<ArgumentException>(() => Base.With(name, text));
        Assert.StartsWith(message, e.Message);
    }

    [Theory]
    [InlineData("90s", 90)]
    [InlineData("1.5h", 5400)]
    [InlineData("120", 120)]
    [InlineData("none", 0)]
    public void Durations_read_seconds_minutes_and_hours(string text, double seconds) =>
        Assert.Equal(TimeSpan.FromSeconds(seconds), RunOptionValues.Duration("max-time", text));

    [Fact]
    public void Normalize_auto_asks_for_candidates_and_a_named_normalization_does_not()
    {
        Assert.True(Base.With("season", "12").ToRunOptions().AutoNormalize);
        Assert.False(Base.With("normalize", "global").ToRunOptions().AutoNormalize);
    }
}
