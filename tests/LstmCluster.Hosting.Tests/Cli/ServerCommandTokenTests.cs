using LstmCluster.Contracts;
using LstmCluster.Cli.Tests;
using LstmCluster.Hosting.Api;
using LstmCluster.Hosting.Tests.Api;

namespace LstmCluster.Hosting.Tests.Cli;

/// <summary><c>submit / status / forecast --server</c> against a token-protected API: <c>--token</c>, <c>LSTMCLUSTER_TOKEN</c>, one-line refusals.</summary>
[Collection(ApiCollection.Name)]
public sealed class ServerCommandTokenTests : IAsyncLifetime
{
    private ApiHost host = null!;

    public async Task InitializeAsync() => host = await ApiHost.Start(new JobApiOptions { Tokens = ApiSecurityTests.Tokens });

    public async Task DisposeAsync() => await host.DisposeAsync();

    private string Server => host.Address.ToString().TrimEnd('/');

    private string[] Submit(params string[] extra) =>
        ["submit", "--server", Server, "--data", ApiHost.AirPassengers, "--target", "value", "--epochs", "2", "--hidden", "8", "--layers", "1",
            "--lookback", "12", "--season", "12", .. extra];

    [Fact]
    public async Task Submit_with_a_token_works_and_status_and_forecast_read_with_one()
    {
        var submit = await Task.Run(() => CliRunner.Run(Submit("--token", ApiSecurityTests.AliceToken, "--wait")));
        Assert.True(submit.ExitCode == 0, submit.Error + submit.Out);
        string id = submit.Out.Split('\n')[0].Trim();
        Assert.Contains($"{id}: Succeeded", submit.Out);

        var status = await Task.Run(() => CliRunner.Run("status", "--server", Server, "--token", ApiSecurityTests.ReadToken, id));
        Assert.True(status.ExitCode == 0, status.Error);
        Assert.Contains("Succeeded", status.Out);
        var forecast = await Task.Run(() => CliRunner.Run("forecast", "--server", Server, "--token", ApiSecurityTests.ReadToken, id));
        Assert.True(forecast.ExitCode == 0, forecast.Error);
        Assert.Contains("Forecast of value", forecast.Out);
    }

    [Fact]
    public async Task The_token_also_comes_from_LSTMCLUSTER_TOKEN()
    {
        Environment.SetEnvironmentVariable("LSTMCLUSTER_TOKEN", ApiSecurityTests.ReadToken);
        try
        {
            var list = await Task.Run(() => CliRunner.Run("status", "--server", Server));
            Assert.True(list.ExitCode == 0, list.Error);
            // The flag wins over the environment.
            var wrong = await Task.Run(() => CliRunner.Run("status", "--server", Server, "--token", "not-the-token-0123456789"));
            Assert.Equal(2, wrong.ExitCode);
        }
        finally
        {
            Environment.SetEnvironmentVariable("LSTMCLUSTER_TOKEN", null);
        }
    }

    [Fact]
    public async Task A_refused_or_missing_token_or_a_role_too_low_is_one_line_and_exit_2()
    {
        var none = await Task.Run(() => CliRunner.Run(Submit()));
        Assert.Equal(2, none.ExitCode);
        Assert.Equal($"error: the server refused the request: it needs a token (--token, or LSTMCLUSTER_TOKEN) (401 from {Server}/jobs)", none.Error.Trim());
        Assert.Equal("", none.Out);

        var wrong = await Task.Run(() => CliRunner.Run("status", "--server", Server, "--token", "not-the-token-0123456789"));
        Assert.Equal(2, wrong.ExitCode);
        Assert.Equal($"error: the server refused the token: it is not one the server accepts (401 from {Server}/jobs)", wrong.Error.Trim());

        var reader = await Task.Run(() => CliRunner.Run(Submit("--token", ApiSecurityTests.ReadToken)));
        Assert.Equal(2, reader.ExitCode);
        Assert.Equal($"error: this needs role submit (the token 'viewer' has role read) (403 from {Server}/jobs)", reader.Error.Trim());
    }
}
