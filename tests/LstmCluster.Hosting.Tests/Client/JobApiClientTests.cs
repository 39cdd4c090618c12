using System.Net;
using System.Net.Sockets;
using System.Text;
using LstmCluster.Contracts;
using LstmCluster.Client;

namespace LstmCluster.Hosting.Tests.Client;

[Collection(ApiCollection.Name)]
public sealed class JobApiClientTests : IAsyncLifetime
{
    private ApiHost host = null!;

    public async Task InitializeAsync() => host = await ApiHost.Start();

    public async Task DisposeAsync() => await host.DisposeAsync();

    [Fact]
    public async Task The_client_submits_a_job_and_reads_its_status_forecast_and_files()
    {
        string id = await host.Client.SubmitAsync(ApiHost.AirPassengers, ApiHost.TinyJob());
        var done = await host.WaitForEnd(id);
        Assert.Equal("Succeeded", done.State);
        var forecast = await host.Client.ForecastAsync(id);
        Assert.Equal("value", forecast.Target);
        Assert.Equal(done.Forecast![0], Assert.Single(forecast.Points).Value);
        Assert.StartsWith("{", System.Text.Encoding.UTF8.GetString(await host.Client.ArtifactAsync(id, "metrics.json")).TrimStart());
        Assert.Contains(await host.Client.ListAsync(), j => j.Id == id);
        // DELETE on a job that has ended deletes it with its files.
        Assert.Equal("Deleted", (await host.Client.CancelAsync(id)).State);
        var gone = await Assert.ThrowsAsync<JobApiException>(() => host.Client.StatusAsync(id));
        Assert.Equal(System.Net.HttpStatusCode.NotFound, gone.StatusCode);
        Assert.DoesNotContain(await host.Client.ListAsync(), j => j.Id == id);
    }

    [Fact]
    public async Task Server_errors_carry_the_status_code_and_the_servers_reason()
    {
        var bad = await Assert.ThrowsAsync<JobApiException>(() =>
            host.Client.SubmitAsync(ApiHost.AirPassengers, new Dictionary<string, string>(ApiHost.TinyJob()) { ["target"] = "nope" }));
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        Assert.True(bad.IsClientError);
        Assert.Contains("nope", bad.Reason);

        var unknown = await Assert.ThrowsAsync<JobApiException>(() => host.Client.StatusAsync("job-42"));
        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
        Assert.Equal("no job 'job-42'", unknown.Reason);
        Assert.Contains($"{host.Address}jobs/job-42", unknown.Message);
    }

    [Fact]
    public async Task An_upload_over_the_servers_limit_is_reported_with_the_servers_413_not_as_unreachable()
    {
        // With a node's Kestrel limit the server stops reading the body after refusing it and closes the connection.
        await using var small = await ApiHost.Start(new LstmCluster.Hosting.Api.JobApiOptions { MaxUploadBytes = 1024 }, nodeBodyLimit: true);
        string big = Path.Combine(Path.GetTempPath(), $"lstmcluster-big-{Guid.NewGuid():N}.csv");
        try
        {
            // Far more than the socket buffers take: the server refuses it while the client would still be sending.
            await File.WriteAllTextAsync(big, "value\n" + string.Concat(Enumerable.Range(0, 3_000_000).Select(i => $"{i % 97}\n")));
            var e = await Assert.ThrowsAsync<JobApiException>(() => small.Client.SubmitAsync(big, ApiHost.TinyJob()));
            Assert.Equal(HttpStatusCode.RequestEntityTooLarge, e.StatusCode);
            Assert.Contains("1,024 bytes", e.Reason);
        }
        finally
        {
            File.Delete(big);
        }
    }

    [Fact]
    public async Task An_upload_waits_for_a_slow_servers_answer_to_its_headers_and_gets_its_413()
    {
        // A server that answers an upload's headers after 2 s, as a loaded one may, refusing it. A client that stopped waiting
        // (.NET's default is 1 s) would have sent the body by then; over a node's limit that body ends in a broken pipe.
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var server = Task.Run(async () =>
        {
            using var socket = await listener.AcceptSocketAsync();
            await using var stream = new NetworkStream(socket);
            var received = new List<byte>();
            var one = new byte[1];
            while (!(received.Count >= 4 && received[^4] == '\r' && received[^3] == '\n' && received[^2] == '\r' && received[^1] == '\n'))
            {
                if (await stream.ReadAsync(one) == 0) throw new IOException("the client closed before its headers ended");
                received.Add(one[0]);
            }
            bool bodyCame;
            using (var wait = new CancellationTokenSource(TimeSpan.FromSeconds(2)))
            {
                try { bodyCame = await stream.ReadAsync(one, wait.Token) > 0; }
                catch (OperationCanceledException) { bodyCame = false; }
            }
            string body = "{\"error\":\"the upload is over the limit of 1,024 bytes\"}";
            await stream.WriteAsync(Encoding.ASCII.GetBytes(
                $"HTTP/1.1 413 Payload Too Large\r\nContent-Type: application/json\r\nContent-Length: {body.Length}\r\nConnection: close\r\n\r\n{body}"));
            socket.Shutdown(SocketShutdown.Send);
            return (Headers: Encoding.ASCII.GetString([.. received]), BodyCame: bodyCame);
        });
        try
        {
            using var client = new JobApiClient(new Uri($"http://127.0.0.1:{((IPEndPoint)listener.LocalEndpoint).Port}/"));
            var e = await Assert.ThrowsAsync<JobApiException>(() => client.SubmitAsync(ApiHost.AirPassengers, ApiHost.TinyJob()));
            Assert.Equal(HttpStatusCode.RequestEntityTooLarge, e.StatusCode);
            Assert.Contains("1,024 bytes", e.Reason);
            var (headers, bodyCame) = await server;
            Assert.Contains("Expect: 100-continue", headers, StringComparison.OrdinalIgnoreCase);
            Assert.False(bodyCame, "the client sent the body before the server answered its headers");
        }
        finally
        {
            listener.Stop();
        }
    }

    [Fact]
    public async Task A_server_that_is_not_there_is_reported_with_its_url()
    {
        using var client = new JobApiClient(new Uri("http://127.0.0.1:1"), TimeSpan.FromSeconds(10));
        var e = await Assert.ThrowsAsync<JobApiUnreachableException>(() => client.ListAsync());
        Assert.StartsWith("cannot reach the job API at http://127.0.0.1:1/jobs", e.Message);
    }
}
