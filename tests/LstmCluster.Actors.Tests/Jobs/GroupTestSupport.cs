using System.Globalization;
using System.Text;
using Akka.Actor;
using Akka.TestKit;
using LstmCluster.Actors.Protocol;

namespace LstmCluster.Actors.Tests.Jobs;

/// <summary>What the job-group tests (per-series, global, sweep) share: their data and how they follow a group.</summary>
internal static class GroupTestSupport
{
    /// <summary>A long-format file (symbol,date,value): each symbol a sine of its own seed and length.</summary>
    public static string LongCsv(params (string Symbol, int Rows)[] series)
    {
        var csv = new StringBuilder("symbol,date,value\n");
        var start = new DateTime(2020, 1, 1);
        foreach (var (symbol, rows) in series)
        {
            var values = TestSupport.Sine(rows, seed: symbol.Length + symbol[0]);
            for (int i = 0; i < rows; i++) csv.Append(CultureInfo.InvariantCulture, $"{symbol},{start.AddDays(i):yyyy-MM-dd},{values[i]:R}\n");
        }
        return csv.ToString();
    }

    /// <summary>Tells <paramref name="target"/> the message from a fresh probe and awaits its answer of type <typeparamref name="T"/>.</summary>
    public static async Task<T> Ask<T>(this TestKitBase kit, IActorRef target, object message, TimeSpan wait)
    {
        var probe = kit.CreateTestProbe();
        target.Tell(message, probe);
        return await probe.ExpectMsgAsync<T>(wait);
    }

    /// <summary>Asks for the group's status until <paramref name="condition"/> holds (the failure names its state and members).</summary>
    public static async Task<GroupStatus> AwaitGroup(this TestKitBase kit, IActorRef coordinator, string group, Func<GroupStatus, bool> condition,
        TimeSpan wait)
    {
        GroupStatus? status = null;
        await kit.AwaitAssertAsync(async () =>
        {
            status = await kit.Ask<GroupStatus>(coordinator, new GetJobStatus(group), wait);
            Assert.True(condition(status), $"{group}: {status.State}, round {status.Sweep?.Round}, members " +
                string.Join(", ", status.Members.Select(m => $"{m.Symbol} {m.State}")));
        }, wait, TimeSpan.FromMilliseconds(50));
        return status!;
    }
}
