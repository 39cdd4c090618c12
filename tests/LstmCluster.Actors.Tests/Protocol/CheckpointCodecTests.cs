using System.Text.Json;
using LstmCluster.Actors.Jobs;
using LstmCluster.Actors.Serialization;

namespace LstmCluster.Actors.Tests.Protocol;

/// <summary>The checkpoint file: read back value for value; anything else (foreign, truncated, corrupt) is named, never half-read.</summary>
public sealed class CheckpointCodecTests
{
    private static readonly JsonSerializerOptions Json = new() { NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals };

    [Fact]
    public void A_checkpoint_file_reads_back_value_for_value()
    {
        var file = CheckpointCodec.ToFile(SerializerTests.Checkpoint);
        var back = CheckpointCodec.FromFile(file, "ck.bin");
        Assert.Equal(JsonSerializer.Serialize(SerializerTests.Checkpoint, Json), JsonSerializer.Serialize(back, Json));
        Assert.Equal(64, CheckpointCodec.Checksum(file).Length);
    }

    [Fact]
    public void A_corrupt_checkpoint_fails_its_checksum_and_names_the_file()
    {
        var file = CheckpointCodec.ToFile(SerializerTests.Checkpoint);
        file[^5] ^= 0x40;
        Assert.Equal("jobs/job-1/checkpoint.bin fails its checksum (corrupt)",
            Assert.Throws<InvalidDataException>(() => CheckpointCodec.FromFile(file, "jobs/job-1/checkpoint.bin")).Message);
    }

    [Fact]
    public void A_truncated_or_foreign_file_is_refused_with_what_it_is()
    {
        var file = CheckpointCodec.ToFile(SerializerTests.Checkpoint);
        Assert.Contains("is truncated", Assert.Throws<InvalidDataException>(() => CheckpointCodec.FromFile(file[..^10], "ck.bin")).Message);
        Assert.Equal("ck.bin is not a LstmCluster checkpoint",
            Assert.Throws<InvalidDataException>(() => CheckpointCodec.FromFile("date,value\n2020-01-01,1\n"u8.ToArray().Concat(new byte[64]).ToArray(), "ck.bin")).Message);
    }

    [Fact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public void A_temporary_store_is_private_to_its_user_and_gone_after_use()
    {
        var store = JobStore.CreateTemporary();
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(store.Root));
        store.DeleteIfTemporary();
        Assert.False(Directory.Exists(store.Root));
    }

    [Fact]
    public void The_store_replaces_a_checkpoint_whole_and_deletes_it()
    {
        var store = JobStore.CreateTemporary();
        try
        {
            Assert.Null(store.ReadCheckpoint("job-1"));
            store.SaveCheckpoint("job-1", [1, 2, 3]);
            store.SaveCheckpoint("job-1", [4, 5]);
            Assert.Equal(new byte[] { 4, 5 }, store.ReadCheckpoint("job-1"));
            Assert.Single(Directory.GetFiles(store.JobFolder("job-1")));
            store.DeleteCheckpoint("job-1");
            Assert.Null(store.ReadCheckpoint("job-1"));
        }
        finally
        {
            store.DeleteIfTemporary();
        }
    }
}
