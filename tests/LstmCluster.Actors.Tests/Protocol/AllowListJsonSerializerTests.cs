using System.Text;
using Akka.Actor;
using Akka.Serialization;
using LstmCluster.Actors.Remoting;
using LstmCluster.Actors.Serialization;

namespace LstmCluster.Actors.Tests.Protocol;

/// <summary>
/// A remote peer picks the serializer id of what it sends. Id 1 is Akka's JSON serializer, which builds whatever type the
/// JSON's <c>$type</c> names; a node's remoting configuration replaces it with <see cref="AllowListJsonSerializer"/>.
/// </summary>
public sealed class AllowListJsonSerializerTests : IDisposable
{
    private readonly ActorSystem system = ActorSystem.Create("json-allow-list", RemoteConfig.Config());

    // What a peer would put on the wire with serializer id 1: a type from outside the project, Akka and plain values.
    private static readonly byte[] Foreign = Encoding.UTF8.GetBytes("""{"$type":"System.Text.StringBuilder, System.Private.CoreLib","Capacity":16}""");

    [Fact]
    public void Serializer_id_1_on_a_node_is_the_allow_list_serializer()
    {
        Assert.IsType<AllowListJsonSerializer>(system.Serialization.FindSerializerForType(typeof(object)));
        Assert.IsType<AllowListJsonSerializer>(system.Serialization.FindSerializerForType(typeof(Dictionary<string, double>)));
    }

    [Fact]
    public void A_type_outside_the_allow_list_is_refused_where_Akkas_own_json_serializer_builds_it()
    {
        var stock = new NewtonSoftJsonSerializer((ExtendedActorSystem)system);
        Assert.IsType<StringBuilder>(stock.FromBinary(Foreign, typeof(object)));

        var ex = Record.Exception(() => system.Serialization.Deserialize(Foreign, AllowListJsonSerializer.SerializerId, ""));
        Assert.NotNull(ex);
        Assert.Contains("System.Text.StringBuilder", ex.GetBaseException().Message);
        Assert.Contains("not allowed", ex.GetBaseException().Message);
    }

    [Fact]
    public void Plain_values_and_collections_still_round_trip()
    {
        var value = new Dictionary<string, double[]> { ["loss"] = [0.5, 0.25] };
        var bytes = system.Serialization.Serialize(value);
        var back = (Dictionary<string, double[]>)system.Serialization.Deserialize(bytes, AllowListJsonSerializer.SerializerId, "");
        Assert.Equal(value["loss"], back["loss"]);
    }

    [Theory]
    [InlineData(typeof(int), true)]
    [InlineData(typeof(DateTime), true)]
    [InlineData(typeof(List<string>), true)]
    [InlineData(typeof(Akka.Actor.Status.Failure), true)]
    [InlineData(typeof(LstmCluster.Actors.Protocol.GetJobStatus), true)]
    [InlineData(typeof(StringBuilder), false)]
    [InlineData(typeof(FileInfo), false)]
    [InlineData(typeof(List<FileInfo>), false)]
    [InlineData(typeof(Action), false)]
    [InlineData(typeof(System.Diagnostics.ProcessStartInfo), false)]
    public void The_allow_list(Type type, bool allowed) => Assert.Equal(allowed, AllowListJsonSerializer.IsAllowed(type));

    public void Dispose() => system.Terminate().Wait(TimeSpan.FromSeconds(10));
}
