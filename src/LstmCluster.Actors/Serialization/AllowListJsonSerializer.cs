using Akka.Actor;
using Akka.Serialization;
using Newtonsoft.Json;
using Newtonsoft.Json.Serialization;

namespace LstmCluster.Actors.Serialization;

/// <summary>
/// Akka's JSON serializer (serializer id 1, <c>NewtonSoftJsonSerializer</c>) with a type allow-list. Akka binds it to
/// <c>System.Object</c> and runs Newtonsoft with <c>TypeNameHandling.All</c> and no binder, so a remote peer that sends a
/// message with serializer id 1 makes the node instantiate whatever type the JSON's <c>$type</c> names: the classic .NET
/// deserialization gadget. Every message of ours has its own serializer (<see cref="LstmClusterSerializer"/>,
/// <see cref="JobEventSerializer"/>, the chunk serializer) and Akka's own go through its protobuf serializers, so JSON is
/// only a fallback; this keeps that fallback but restricts it to types of the project, of Akka, and plain values and
/// collections of <c>System</c>. Anything else fails to deserialize (Akka logs it and drops the message) before a single
/// member of the named type runs.
/// </summary>
public sealed class AllowListJsonSerializer : NewtonSoftJsonSerializer
{
    /// <summary>Akka's own id for its JSON serializer: messages already on the wire with it keep reading.</summary>
    public const int SerializerId = 1;

    public AllowListJsonSerializer(ExtendedActorSystem system) : base(system) => Restrict();

    /// <summary>What Akka calls when <c>akka.actor.serialization-settings.json</c> exists (it does, in Akka's defaults).</summary>
    public AllowListJsonSerializer(ExtendedActorSystem system, Akka.Configuration.Config config) : base(system, config) => Restrict();

    // NewtonSoftJsonSerializer reads Settings at every call (JsonConvert.*Object(..., Settings)).
    private void Restrict() => Settings.SerializationBinder = new AllowListBinder();

    public override int Identifier => SerializerId;

    /// <summary>Replaces Akka's <c>json</c> serializer by this one (same name, same id, same bindings).</summary>
    public static string Hocon => $$"""
        akka.actor {
          serializers.json = "{{typeof(AllowListJsonSerializer).AssemblyQualifiedName}}"
          serialization-identifiers { "{{typeof(AllowListJsonSerializer).AssemblyQualifiedName}}" = {{SerializerId}} }
        }
        """;

    /// <summary>True for the types the JSON fallback may create (see the class summary); arrays and generic arguments are checked too.</summary>
    public static bool IsAllowed(Type type)
    {
        if (type.IsArray || type.IsPointer || type.IsByRef) return type.GetElementType() is { } element && IsAllowed(element);
        if (typeof(Delegate).IsAssignableFrom(type)) return false;
        if (type.IsGenericType && !type.IsGenericTypeDefinition && !type.GetGenericArguments().All(IsAllowed)) return false;
        string assembly = type.Assembly.GetName().Name ?? "";
        if (assembly.StartsWith("LstmCluster.", StringComparison.Ordinal) || assembly == "Akka" || assembly.StartsWith("Akka.", StringComparison.Ordinal))
            return true;
        string ns = type.Namespace ?? "";
        return ns is "System" or "System.Collections" or "System.Collections.Generic" or "System.Collections.Immutable"
            && (type.IsPrimitive || type.IsEnum || type.IsValueType || type == typeof(string) || type.IsGenericType || ns != "System");
    }

    private sealed class AllowListBinder : ISerializationBinder
    {
        private readonly DefaultSerializationBinder inner = new();

        public Type BindToType(string? assemblyName, string typeName)
        {
            var type = inner.BindToType(assemblyName, typeName);
            if (!IsAllowed(type))
                throw new JsonSerializationException($"type '{typeName}' is not allowed in a JSON message (AllowListJsonSerializer)");
            return type;
        }

        public void BindToName(Type serializedType, out string? assemblyName, out string? typeName) =>
            inner.BindToName(serializedType, out assemblyName, out typeName);
    }
}
