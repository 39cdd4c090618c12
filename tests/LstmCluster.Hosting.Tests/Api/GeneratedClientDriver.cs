// Compiled at test time (GeneratedClientTests) with the client NSwag generated from a node's /openapi/v1.json, not with the
// test project: every name used here (operations, form fields, schemas) must be in that document.
using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Net.Http;
using System.Threading.Tasks;

namespace LstmCluster.Generated;

public static class Driver
{
    /// <summary>
    /// Submits <paramref name="csvPath"/> as a small job, follows it until it ends, and reads its forecast as JSON and as
    /// forecast.csv (files endpoint). Answers the job's id, its final state, then one line per forecast point
    /// ("point STEP VALUE") and per forecast.csv row ("csv ROW").
    /// </summary>
    public static async Task<IReadOnlyList<string>> Run(HttpClient http, string baseUrl, string csvPath)
    {
        var client = new JobApiClient(http) { BaseUrl = baseUrl };
        SubmittedView submitted;
        await using (var csv = File.OpenRead(csvPath))
        {
            submitted = await client.SubmitJobAsync(
                data: new FileParameter(csv, Path.GetFileName(csvPath), "text/csv"),
                target: "value", epochs: "3", hidden: 8, layers: 1, lookback: 12, season: 12, patience: 0, workers: 1);
        }

        // Followed as any client does: the status until the job ends (the deadline only bounds a broken run).
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(120);
        JobView job;
        while (true)
        {
            job = await client.GetJobAsync(submitted.Id);
            if (job.State is "Succeeded" or "Failed" or "Cancelled") break;
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"job {submitted.Id} is {job.State} at epoch {job.Epoch} after the wait");
            await Task.Delay(100);
        }
        var lines = new List<string> { submitted.Id, job.State };
        if (job.State != "Succeeded") return lines;

        var forecast = await client.GetJobForecastAsync(submitted.Id);
        foreach (var point in forecast.Points)
            lines.Add(string.Create(CultureInfo.InvariantCulture, $"point {point.Step} {point.Value:R}"));

        using var file = await client.GetJobFileAsync(submitted.Id, "forecast.csv");
        using var reader = new StreamReader(file.Stream);
        string text = await reader.ReadToEndAsync();
        lines.AddRange(text.Split('\n', StringSplitOptions.RemoveEmptyEntries).Skip(1).Select(row => "csv " + row.Trim()));
        return lines;
    }
}
