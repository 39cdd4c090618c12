using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using LstmCluster.Actors.Jobs;
using LstmCluster.Actors.Protocol;
using LstmCluster.Client;
using LstmCluster.Contracts;
using LstmCluster.Hosting.Api;

namespace LstmCluster.Hosting.Tests.Api;

/// <summary>The job API behind tokens: who may do what, what a refusal says, and the hardening around it.</summary>
[Collection(ApiCollection.Name)]
public sealed class ApiSecurityTests : IAsyncLifetime
{
    public const string AdminToken = "admin-token-0123456789abcdef";
    public const string ReadToken = "read-token-0123456789abcdef";
    public const string AliceToken = "alice-token-0123456789abcdef";
    public const string BobToken = "bob-token-0123456789abcdef";

    public static readonly ApiTokens Tokens = ApiTokens.Parse($"""
        # name  role    token
        root    admin   {AdminToken}
        viewer  read    {ReadToken}
        alice   submit  {AliceToken}
        bob     submit  {BobToken}   # a second submitter
        """, "tokens.txt");

    private static readonly byte[] Air = File.ReadAllBytes(ApiHost.AirPassengers);

    private ApiHost host = null!;

    public async Task InitializeAsync() => host = await ApiHost.Start(new JobApiOptions { Tokens = Tokens });

    public async Task DisposeAsync() => await host.DisposeAsync();

    private static HttpRequestMessage Request(HttpMethod method, string path, string? token = null, HttpContent? content = null)
    {
        var request = new HttpRequestMessage(method, path) { Content = content };
        if (token is not null) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return request;
    }

    private static MultipartFormDataContent Job(int epochs = 2)
    {
        var form = new MultipartFormDataContent { { new ByteArrayContent(Air), "data", "AirPassengers.csv" } };
        foreach (var (k, v) in ApiHost.TinyJob(epochs)) form.Add(new StringContent(v), k);
        return form;
    }

    private static async Task<string> Error(HttpResponseMessage response) =>
        JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("error").GetString()!;

    private async Task<string> Submit(string token)
    {
        using var response = await host.Http.SendAsync(Request(HttpMethod.Post, "jobs", token, Job()));
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        return JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("id").GetString()!;
    }

    public static TheoryData<string, string> JobRoutes => new()
    {
        { "GET", "jobs" },
        { "GET", "jobs/job-1" },
        { "DELETE", "jobs/job-1" },
        { "GET", "jobs/job-1/metrics" },
        { "GET", "jobs/job-1/forecast" },
        { "GET", "jobs/job-1/plot" },
        { "GET", "jobs/job-1/model" },
        { "GET", "jobs/job-1/files/metrics.json" },
        { "POST", "jobs" },
    };

    [Theory]
    [MemberData(nameof(JobRoutes))]
    public async Task Every_jobs_route_answers_401_without_a_token(string method, string path)
    {
        using var response = await host.Http.SendAsync(Request(new HttpMethod(method), path, content: method == "POST" ? Job() : null));
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal("Bearer", response.Headers.WwwAuthenticate.Single().Scheme);
        Assert.Equal("a bearer token is needed (Authorization: Bearer TOKEN)", await Error(response));
    }

    [Fact]
    public async Task Health_and_ready_answer_without_a_token()
    {
        using var health = await host.Http.GetAsync("health");
        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
        using var ready = await host.Http.GetAsync("ready");
        Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
    }

    [Theory]
    [InlineData("Bearer", "not-a-token-of-this-server-at-all")]
    [InlineData("Bearer", AdminToken + "x")]
    [InlineData("Basic", AdminToken)]
    public async Task A_token_that_is_not_accepted_is_401_without_saying_why(string scheme, string token)
    {
        var request = Request(HttpMethod.Get, "jobs");
        request.Headers.Authorization = new AuthenticationHeaderValue(scheme, token);
        using var response = await host.Http.SendAsync(request);
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal("the bearer token was not accepted", await Error(response));
        Assert.Contains("invalid_token", response.Headers.WwwAuthenticate.Single().Parameter);
    }

    [Fact]
    public async Task A_read_token_reads_jobs_but_cannot_submit_or_cancel()
    {
        string id = await Submit(AdminToken);
        using (var list = await host.Http.SendAsync(Request(HttpMethod.Get, "jobs", ReadToken)))
            Assert.Equal(HttpStatusCode.OK, list.StatusCode);
        using (var one = await host.Http.SendAsync(Request(HttpMethod.Get, $"jobs/{id}", ReadToken)))
        {
            Assert.Equal(HttpStatusCode.OK, one.StatusCode);
            Assert.Equal("root", JsonDocument.Parse(await one.Content.ReadAsStringAsync()).RootElement.GetProperty("owner").GetString());
        }

        using (var submit = await host.Http.SendAsync(Request(HttpMethod.Post, "jobs", ReadToken, Job())))
        {
            Assert.Equal(HttpStatusCode.Forbidden, submit.StatusCode);
            Assert.Equal("this needs role submit (the token 'viewer' has role read)", await Error(submit));
        }
        using (var cancel = await host.Http.SendAsync(Request(HttpMethod.Delete, $"jobs/{id}", ReadToken)))
        {
            Assert.Equal(HttpStatusCode.Forbidden, cancel.StatusCode);
            Assert.Contains("needs role submit", await Error(cancel));
        }
        Assert.Equal("Succeeded", (await WaitForEnd(id)).State);
    }

    [Fact]
    public async Task A_submit_token_cancels_its_own_job_but_not_anothers_and_an_admin_cancels_any()
    {
        string alices = await Submit(AliceToken);
        string bobs = await Submit(BobToken);

        using (var other = await host.Http.SendAsync(Request(HttpMethod.Delete, $"jobs/{bobs}", AliceToken)))
        {
            Assert.Equal(HttpStatusCode.Forbidden, other.StatusCode);
            Assert.Equal($"job '{bobs}' was submitted by token 'bob': cancelling or deleting another's job needs role admin (the token 'alice' has role submit)",
                await Error(other));
        }
        using (var own = await host.Http.SendAsync(Request(HttpMethod.Delete, $"jobs/{alices}", AliceToken)))
            Assert.Equal(HttpStatusCode.OK, own.StatusCode);
        using (var admin = await host.Http.SendAsync(Request(HttpMethod.Delete, $"jobs/{bobs}", AdminToken)))
            Assert.Equal(HttpStatusCode.OK, admin.StatusCode);

        // Each DELETE did its work: a queued or running job is cancelled, a finished one deleted.
        foreach (var id in new[] { alices, bobs })
        {
            using var status = await host.Http.SendAsync(Request(HttpMethod.Get, $"jobs/{id}", ReadToken));
            if (status.StatusCode == HttpStatusCode.OK)
                Assert.Equal("Cancelled", JsonDocument.Parse(await status.Content.ReadAsStringAsync()).RootElement.GetProperty("state").GetString());
            else
                Assert.Equal(HttpStatusCode.NotFound, status.StatusCode);
        }

        using (var unknown = await host.Http.SendAsync(Request(HttpMethod.Delete, "jobs/job-999", AliceToken)))
            Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
    }

    [Fact]
    public async Task A_url_encoded_form_is_refused_with_415()
    {
        var form = new FormUrlEncodedContent(new Dictionary<string, string> { ["target"] = "value", ["path"] = "AirPassengers.csv" });
        using var response = await host.Http.SendAsync(Request(HttpMethod.Post, "jobs", AdminToken, form));
        Assert.Equal(HttpStatusCode.UnsupportedMediaType, response.StatusCode);
        Assert.Contains("expected a multipart/form-data body", await Error(response));
        Assert.Contains("application/x-www-form-urlencoded", await Error(response));
    }

    [Fact]
    public async Task A_host_name_the_node_does_not_answer_to_is_400()
    {
        var request = Request(HttpMethod.Get, "jobs", AdminToken);
        request.Headers.Host = "attacker.example";
        using var response = await host.Http.SendAsync(request);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);

        var local = Request(HttpMethod.Get, "jobs", AdminToken);
        local.Headers.Host = $"localhost:{host.Address.Port}";
        using var ok = await host.Http.SendAsync(local);
        Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
    }

    [Fact]
    public async Task A_write_from_another_web_origin_is_refused()
    {
        var request = Request(HttpMethod.Delete, "jobs/job-1", AdminToken);
        request.Headers.Add("Origin", "http://attacker.example");
        using var response = await host.Http.SendAsync(request);
        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        Assert.Contains("web origin http://attacker.example is refused", await Error(response));
        Assert.False(response.Headers.Contains("Access-Control-Allow-Origin"));
    }

    private async Task<JobView> WaitForEnd(string id)
    {
        using var reader = new JobApiClient(host.Http, token: ReadToken);
        return await ApiHost.WaitFor(reader, id, s => s.Ended);
    }
}

/// <summary>Tokens' rate limits: a 429 with Retry-After, per token, and a tighter one for submissions.</summary>
[Collection(ApiCollection.Name)]
public sealed class ApiRateLimitTests
{
    [Fact]
    public async Task A_token_over_its_request_rate_gets_429_with_retry_after_and_another_token_is_not_held_back()
    {
        await using var host = await ApiHost.Start(new JobApiOptions
        {
            Tokens = ApiSecurityTests.Tokens,
            RateLimits = new ApiRateLimits { RequestsPerSecond = 0.5 },
        });
        // A burst of one (twice 0.5/s, at least 1), then one token every 2 s: the second request at once is over.
        var codes = new List<HttpStatusCode>();
        HttpResponseMessage? limited = null;
        for (int i = 0; i < 3 && limited is null; i++)
        {
            var response = await Send(host, HttpMethod.Get, "jobs", ApiSecurityTests.ReadToken);
            codes.Add(response.StatusCode);
            if (response.StatusCode == HttpStatusCode.TooManyRequests) limited = response;
            else response.Dispose();
        }
        Assert.NotNull(limited);
        using (limited)
        {
            Assert.Equal(HttpStatusCode.OK, codes[0]);
            Assert.True(limited.Headers.RetryAfter?.Delta >= TimeSpan.FromSeconds(1), $"Retry-After: {limited.Headers.RetryAfter}");
            var error = JsonDocument.Parse(await limited.Content.ReadAsStringAsync()).RootElement.GetProperty("error").GetString();
            Assert.StartsWith("too many requests for token 'viewer': retry after", error);
        }
        using var other = await Send(host, HttpMethod.Get, "jobs", ApiSecurityTests.AdminToken);
        Assert.Equal(HttpStatusCode.OK, other.StatusCode);
        // Health is never limited.
        for (int i = 0; i < 3; i++)
        {
            using var health = await host.Http.GetAsync("health");
            Assert.Equal(HttpStatusCode.OK, health.StatusCode);
        }
    }

    [Fact]
    public async Task Submissions_have_their_own_tighter_limit()
    {
        await using var host = await ApiHost.Start(new JobApiOptions
        {
            Tokens = ApiSecurityTests.Tokens,
            RateLimits = new ApiRateLimits { SubmissionsPerMinute = 1, SubmissionBurst = 1 },
        });
        // Bodies the handler refuses (400): the limit counts submissions before they are read.
        using var first = await Send(host, HttpMethod.Post, "jobs", ApiSecurityTests.AliceToken, new MultipartFormDataContent { { new StringContent("x"), "target" } });
        Assert.Equal(HttpStatusCode.BadRequest, first.StatusCode);
        using var second = await Send(host, HttpMethod.Post, "jobs", ApiSecurityTests.AliceToken, new MultipartFormDataContent { { new StringContent("x"), "target" } });
        Assert.Equal(HttpStatusCode.TooManyRequests, second.StatusCode);
        Assert.True(second.Headers.RetryAfter?.Delta >= TimeSpan.FromSeconds(1));
        // Reading is not a submission.
        using var read = await Send(host, HttpMethod.Get, "jobs", ApiSecurityTests.AliceToken);
        Assert.Equal(HttpStatusCode.OK, read.StatusCode);
    }

    [Fact]
    public async Task An_open_api_has_no_rate_limit_and_no_token_check()
    {
        await using var host = await ApiHost.Start(new JobApiOptions { RateLimits = new ApiRateLimits { RequestsPerSecond = 0.5 } });
        for (int i = 0; i < 4; i++)
        {
            using var response = await host.Http.GetAsync("jobs");
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }
    }

    private static Task<HttpResponseMessage> Send(ApiHost host, HttpMethod method, string path, string token, HttpContent? content = null)
    {
        var request = new HttpRequestMessage(method, path) { Content = content };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return host.Http.SendAsync(request);
    }
}

/// <summary><c>--max-stored-mb-per-owner</c> through the API: 507 naming what the token stores, until it deletes a job.</summary>
[Collection(ApiCollection.Name)]
public sealed class ApiStorageQuotaTests
{
    [Fact]
    public async Task A_token_whose_finished_jobs_hold_its_storage_gets_507_until_it_deletes_one_and_another_token_still_submits()
    {
        long upload = new FileInfo(ApiHost.AirPassengers).Length;
        // Room for one upload and a little: the first job's model, plots and tables then take alice past it.
        await using var host = await ApiHost.Start(new JobApiOptions { Tokens = ApiSecurityTests.Tokens },
            coordinator: CoordinatorActor.Props(new CoordinatorSettings
            {
                Engine = new EngineOptions { Workers = 1 },
                Artifacts = JobArtifactFiles.Write,
                Budget = new JobBudget { MaxStoredBytesPerOwner = upload + 1024 },
            }));
        using var alice = new JobApiClient(host.Http, token: ApiSecurityTests.AliceToken);
        string first = await alice.SubmitAsync(ApiHost.AirPassengers, ApiHost.TinyJob());
        Assert.Equal("Succeeded", (await ApiHost.WaitFor(alice, first, s => s.Ended)).State);

        var refused = await Assert.ThrowsAsync<JobApiException>(() => alice.SubmitAsync(ApiHost.AirPassengers, ApiHost.TinyJob()));
        Assert.Equal(HttpStatusCode.InsufficientStorage, refused.StatusCode);
        Assert.True(refused.IsClientError, "a quota is the caller's to clear: the CLI exits 2, not 1");
        Assert.Matches(@"^'alice' stores [\d.,]+ KB in 1 job, which reaches its limit of [\d.,]+ KB \(--max-stored-mb-per-owner\): "
            + @"delete jobs it no longer needs \(lstmcluster delete ID, or DELETE /jobs/\{id\} or /groups/\{id\}\) and submit again$", refused.Reason);

        // bob's storage is his own.
        using var bob = new JobApiClient(host.Http, token: ApiSecurityTests.BobToken);
        string bobs = await bob.SubmitAsync(ApiHost.AirPassengers, ApiHost.TinyJob());

        // Deleting the finished job makes room again.
        using (var delete = new HttpRequestMessage(HttpMethod.Delete, $"jobs/{first}"))
        {
            delete.Headers.Authorization = new AuthenticationHeaderValue("Bearer", ApiSecurityTests.AliceToken);
            using var deleted = await host.Http.SendAsync(delete);
            Assert.Equal(HttpStatusCode.OK, deleted.StatusCode);
        }
        string second = await alice.SubmitAsync(ApiHost.AirPassengers, ApiHost.TinyJob());
        Assert.Equal("Succeeded", (await ApiHost.WaitFor(alice, second, s => s.Ended)).State);
        Assert.Equal("Succeeded", (await ApiHost.WaitFor(bob, bobs, s => s.Ended)).State);
    }
}

/// <summary>CORS is off unless origins are given; a listed origin may call the API from a browser, any other may not.</summary>
[Collection(ApiCollection.Name)]
public sealed class ApiCorsTests
{
    [Fact]
    public async Task A_listed_origin_gets_cors_answers_and_may_write_and_an_unlisted_one_does_not()
    {
        await using var host = await ApiHost.Start(new JobApiOptions { Tokens = ApiSecurityTests.Tokens, CorsOrigins = ["http://app.example"] });

        var preflight = new HttpRequestMessage(HttpMethod.Options, "jobs/job-1");
        preflight.Headers.Add("Origin", "http://app.example");
        preflight.Headers.Add("Access-Control-Request-Method", "DELETE");
        preflight.Headers.Add("Access-Control-Request-Headers", "authorization");
        using (var response = await host.Http.SendAsync(preflight))
        {
            Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
            Assert.Equal("http://app.example", response.Headers.GetValues("Access-Control-Allow-Origin").Single());
        }

        var listed = new HttpRequestMessage(HttpMethod.Delete, "jobs/job-1");
        listed.Headers.Add("Origin", "http://app.example");
        listed.Headers.Authorization = new AuthenticationHeaderValue("Bearer", ApiSecurityTests.AdminToken);
        using (var response = await host.Http.SendAsync(listed))
            Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);   // past the origin check: no such job

        var unlisted = new HttpRequestMessage(HttpMethod.Delete, "jobs/job-1");
        unlisted.Headers.Add("Origin", "http://other.example");
        unlisted.Headers.Authorization = new AuthenticationHeaderValue("Bearer", ApiSecurityTests.AdminToken);
        using (var response = await host.Http.SendAsync(unlisted))
        {
            Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
            Assert.False(response.Headers.Contains("Access-Control-Allow-Origin"));
        }
    }
}
