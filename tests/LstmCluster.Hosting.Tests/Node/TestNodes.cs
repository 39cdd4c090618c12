using System.Net;
using System.Net.Sockets;

namespace LstmCluster.Hosting.Tests;

/// <summary>What the tests that start real nodes in their process share: a free port, waiting for /ready, removing a state folder.</summary>
internal static class TestNodes
{
    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>GET /ready until 200; the deadline only fails a test that would hang.</summary>
    public static async Task WaitReady(HttpClient http, TimeSpan? timeout = null)
    {
        var limit = timeout ?? TimeSpan.FromSeconds(60);
        var deadline = DateTime.UtcNow + limit;
        while (true)
        {
            try
            {
                using var ready = await http.GetAsync("ready");
                if (ready.IsSuccessStatusCode) return;
            }
            catch (HttpRequestException)
            {
                // Not listening yet.
            }
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"the node did not become ready within {limit.TotalSeconds:0} s");
            await Task.Delay(100);
        }
    }

    public static void DeleteState(string dir)
    {
        try
        {
            if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
        }
        catch (IOException)
        {
            // A file still held open by a stopping node: the temp folder keeps it.
        }
    }
}
