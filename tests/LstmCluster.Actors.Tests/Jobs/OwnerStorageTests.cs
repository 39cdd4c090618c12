using LstmCluster.Actors.Jobs;

namespace LstmCluster.Actors.Tests.Jobs;

/// <summary>What <c>--max-stored-mb-per-owner</c> counts: every byte of a job's folder, an ended one's counted once.</summary>
public sealed class OwnerStorageTests : IDisposable
{
    private readonly JobStore store = JobStore.CreateTemporary();

    public void Dispose() => store.DeleteIfTemporary();

    [Fact]
    public void A_folder_counts_its_upload_checkpoint_and_files_and_a_missing_one_nothing()
    {
        Assert.Equal(0, store.Size("job-1"));
        store.SaveUpload("job-1", "data.csv", "date,value\n2020-01-01,1\n");
        store.SaveCheckpoint("job-1", new byte[1000]);
        store.SaveFiles("job-1", new Dictionary<string, byte[]> { ["metrics.json"] = new byte[300], ["model/weights.bin"] = new byte[4000] });
        Assert.Equal(24 + 1000 + 300 + 4000, store.Size("job-1"));
        store.DeleteCheckpoint("job-1");
        Assert.Equal(24 + 300 + 4000, store.Size("job-1"));
    }

    [Fact]
    public void An_open_folder_is_counted_each_time_an_ended_one_once_until_forgotten()
    {
        var storage = new OwnerStorage(store);
        store.SaveUpload("job-1", "data.csv", new string('x', 100));
        store.SaveUpload("job-2", "data.csv", new string('x', 200));
        Assert.Equal(300, storage.Of([("job-1", false), ("job-2", true)]));

        // The open job grows (a checkpoint) and is counted again; the ended one is remembered as it was.
        store.SaveCheckpoint("job-1", new byte[50]);
        store.SaveCheckpoint("job-2", new byte[50]);
        Assert.Equal(150 + 200, storage.Of([("job-1", false), ("job-2", true)]));

        // Deleted and forgotten: its id counts what is there again (nothing).
        store.Delete("job-2");
        storage.Forget("job-2");
        Assert.Equal(150, storage.Of([("job-1", false), ("job-2", true)]));
    }

    [Theory]
    [InlineData(0, "0.0 KB")]
    [InlineData(1536, "1.5 KB")]
    [InlineData(5L * 1048576, "5.00 MB")]
    [InlineData(3L << 30, "3.00 GB")]
    public void Sizes_read_in_the_unit_that_fits(long bytes, string text) => Assert.Equal(text, OwnerStorage.Text(bytes));
}
