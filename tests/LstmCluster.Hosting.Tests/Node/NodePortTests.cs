using System.Net;
using System.Net.Sockets;
using LstmCluster.Cli.Tests;

namespace LstmCluster.Hosting.Tests.Node;

/// <summary><c>lstmcluster node</c> with a port another socket holds: exit 2 and one line naming the port, before anything starts.</summary>
[Collection(ApiCollection.Name)]
public sealed class NodePortTests : IDisposable
{
    private readonly string stateDir = Directory.CreateTempSubdirectory("lstmcluster-port-").FullName;

    public void Dispose() => Directory.Delete(stateDir, recursive: true);

    [Theory]
    [InlineData("--port")]
    [InlineData("--http-port")]
    public async Task A_node_whose_port_is_taken_exits_2_saying_the_port_is_in_use(string option)
    {
        var holder = new TcpListener(IPAddress.Loopback, 0);
        holder.Start();
        try
        {
            int port = ((IPEndPoint)holder.LocalEndpoint).Port;
            string[] ports = option == "--port" ? ["--port", $"{port}", "--http-port", "0"] : ["--port", "0", "--http-port", $"{port}"];
            var r = await Task.Run(() => CliRunner.Run([.. new[] { "node", "--host", "127.0.0.1", "--state-dir", stateDir }, .. ports]));
            Assert.Equal(2, r.ExitCode);
            Assert.Equal($"error: port {port} is in use on 127.0.0.1 ({(option == "--port" ? "Akka.Remote" : "HTTP")}, {option}): another node or program holds it; choose another port",
                r.Error.Trim());
            Assert.DoesNotContain("is Up", r.Out);
        }
        finally
        {
            holder.Stop();
        }
    }
}
