using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using LstmCluster.Contracts;

namespace LstmCluster.Client;

/// <summary>The server answered with an error: its status code and its reason (the body's <c>error</c>).</summary>
public sealed class JobApiException(HttpStatusCode status, string reason, string url)
    : Exception($"{reason} ({(int)status} from {url})")
{
    public HttpStatusCode StatusCode { get; } = status;
    public string Reason { get; } = reason;
    public string Url { get; } = url;

    /// <summary>401 or 403: the token was missing, not accepted, or lacks the role.</summary>
    public bool IsRefused => StatusCode is HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden;

    /// <summary>
    /// 4xx: the request was at fault (bad options or data, unknown job), not the server. 507 counts too: it is the token's
    /// own storage limit (<c>--max-stored-mb-per-owner</c>), which the caller clears by deleting its jobs, not a fault to retry.
    /// </summary>
    public bool IsClientError => (int)StatusCode is >= 400 and < 500 || StatusCode == HttpStatusCode.InsufficientStorage;
}

/// <summary>No HTTP answer at all: connection refused, name not found, timeout.</summary>
public sealed class JobApiUnreachableException(string url, Exception inner)
    : Exception($"cannot reach the job API at {url}: {inner.Message}", inner)
{
    public string Url { get; } = url;
}

/// <summary>
/// The job API answered over HTTPS with a certificate this client does not accept (<see cref="ServerCertificateCheck"/>): not
/// issued by a CA it trusts, issued for another name, expired. Nothing was sent beyond the TLS handshake.
/// </summary>
public sealed class JobApiCertificateException(string url, string problem, Exception inner)
    : Exception($"the job API at {url} presented a certificate this client does not accept: {problem}" + Hint(problem), inner)
{
    public string Url { get; } = url;

    public string Problem { get; } = problem;

    private static string Hint(string problem) =>
        problem.StartsWith("not issued by a trusted CA", StringComparison.Ordinal) ? "; give the CA certificate that issued it with --ca FILE (or LSTMCLUSTER_CA)"
        : problem.StartsWith("issued for another name", StringComparison.Ordinal) ? "; use one of those names in the URL, or give the server a certificate for this one"
        : "";
}

/// <summary>
/// A thin client of the HTTP job API (served by LstmCluster.Hosting's <c>MapJobApi</c>): submit, status, list,
/// forecast, files, cancel. Errors are <see cref="JobApiException"/> (with the server's reason) or
/// <see cref="JobApiUnreachableException"/> (naming the URL). With a token every request carries
/// <c>Authorization: Bearer TOKEN</c>.
/// </summary>
public sealed class JobApiClient : IDisposable
{
    private readonly HttpClient http;
    private readonly bool ownsClient;
    private readonly string? token;
    private readonly ServerCertificateCheck? certificates;

    /// <param name="server">The job API's URL: http://, or https:// (the server's certificate checked by <see cref="ServerCertificateCheck"/>).</param>
    /// <param name="timeout">How long a request may wait for its answer (2 minutes unless given).</param>
    /// <param name="token">A bearer token, sent with every request; null: none.</param>
    /// <param name="authorities">
    /// CA certificates an HTTPS server's certificate may also be issued by, beside the system's (a cluster's private CA, read with
    /// <see cref="ServerCertificateCheck.LoadAuthorities"/>); null: the system's alone.
    /// </param>
    public JobApiClient(Uri server, TimeSpan? timeout = null, string? token = null, X509Certificate2Collection? authorities = null)
        : this(new ServerCertificateCheck(authorities), server, timeout, token)
    {
    }

    private JobApiClient(ServerCertificateCheck check, Uri server, TimeSpan? timeout, string? token)
        : this(new HttpClient(check.Handler()) { BaseAddress = WithSlash(server), Timeout = timeout ?? TimeSpan.FromMinutes(2) }, ownsClient: true, token)
    {
        certificates = check;
    }

    /// <summary>How long an upload waits for the server's answer to its headers (100 Continue, or 413 over the limit) before it sends the body anyway.</summary>
    public static readonly TimeSpan Expect100ContinueWait = TimeSpan.FromSeconds(10);

    /// <summary>
    /// The handler to build an HttpClient for this client on (the constructor taking a URL does): it waits
    /// <see cref="Expect100ContinueWait"/> for the server's answer to an upload's headers. .NET's default, 1 s, is less than a loaded server may take to get to it: the body then
    /// goes out, the server refuses it mid-upload and closes the connection, and its 413 is lost to a broken pipe (seen on a
    /// 2-core host running three test suites at once).
    /// </summary>
    public static HttpMessageHandler CreateHandler(X509Certificate2Collection? authorities = null) => new ServerCertificateCheck(authorities).Handler();

    public JobApiClient(HttpClient http, bool ownsClient = false, string? token = null)
    {
        ArgumentNullException.ThrowIfNull(http.BaseAddress, nameof(http.BaseAddress));
        this.http = http;
        this.ownsClient = ownsClient;
        this.token = string.IsNullOrWhiteSpace(token) ? null : token.Trim();
    }

    public Uri Server => http.BaseAddress!;

    // A base address without a trailing slash would lose its last path segment when "jobs" is resolved against it.
    private static Uri WithSlash(Uri server) => server.AbsoluteUri.EndsWith('/') ? server : new Uri(server.AbsoluteUri + "/");

    /// <summary>Parses a --server argument: <c>http://host:port</c>, or <c>host:port</c> (http assumed).</summary>
    public static Uri ParseServer(string text)
    {
        string s = text.Trim();
        if (!s.Contains("://", StringComparison.Ordinal)) s = "http://" + s;
        if (!Uri.TryCreate(s, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
            throw new ArgumentException($"--server must be an http(s) URL such as http://127.0.0.1:5080 (got '{text}')");
        return uri;
    }

    /// <summary>Uploads <paramref name="csvPath"/> with the options (train's names without dashes, plus workers and priority); returns the job id.</summary>
    public Task<string> SubmitAsync(string csvPath, IReadOnlyDictionary<string, string> options, CancellationToken ct = default) =>
        UploadAsync("jobs", csvPath, options, ct);

    /// <summary>
    /// Starts a sweep (<c>POST /sweeps</c>): <paramref name="csvPath"/> with train's options and the sweep's fields (grid, eta,
    /// min-epochs, max-epochs, max-trials); returns the sweep group's id, followed with <see cref="GroupStatusAsync"/>.
    /// </summary>
    public Task<string> SubmitSweepAsync(string csvPath, IReadOnlyDictionary<string, string> fields, CancellationToken ct = default) =>
        UploadAsync("sweeps", csvPath, fields, ct);

    /// <summary>Every job group, newest first.</summary>
    public async Task<IReadOnlyList<GroupView>> ListGroupsAsync(CancellationToken ct = default) =>
        (await Send<GroupListView>(() => new HttpRequestMessage(HttpMethod.Get, "groups"), ct)).Groups;

    /// <summary>Cancels every member of a running group (a finished one is deleted); answers the group's status.</summary>
    public Task<GroupView> CancelGroupAsync(string id, CancellationToken ct = default) =>
        Send<GroupView>(() => new HttpRequestMessage(HttpMethod.Delete, $"groups/{Uri.EscapeDataString(id)}"), ct);

    private async Task<string> UploadAsync(string route, string csvPath, IReadOnlyDictionary<string, string> options, CancellationToken ct)
    {
        using var form = new MultipartFormDataContent();
        await using var file = File.OpenRead(csvPath);
        var content = new StreamContent(file);
        content.Headers.ContentType = new MediaTypeHeaderValue("text/csv");
        form.Add(content, "data", Path.GetFileName(csvPath));
        foreach (var (name, value) in options) form.Add(new StringContent(value), name);
        // Expect: 100-continue: a server that refuses the upload from its headers (413 over its limit) answers before the
        // body is sent; without it the server closes the connection mid-upload and its answer is lost.
        var submitted = await Send<SubmittedView>(() =>
        {
            var request = new HttpRequestMessage(HttpMethod.Post, route) { Content = form };
            request.Headers.ExpectContinue = true;
            return request;
        }, ct);
        return submitted.Id;
    }

    public Task<JobView> StatusAsync(string id, CancellationToken ct = default) =>
        Send<JobView>(() => new HttpRequestMessage(HttpMethod.Get, $"jobs/{Uri.EscapeDataString(id)}"), ct);

    public async Task<IReadOnlyList<JobView>> ListAsync(CancellationToken ct = default) =>
        (await Send<JobListView>(() => new HttpRequestMessage(HttpMethod.Get, "jobs"), ct)).Jobs;

    public Task<ForecastView> ForecastAsync(string id, CancellationToken ct = default) =>
        Send<ForecastView>(() => new HttpRequestMessage(HttpMethod.Get, $"jobs/{Uri.EscapeDataString(id)}/forecast"), ct);

    /// <summary>The next values after the rows of <paramref name="csvText"/> (CSV with the training file's columns), from job <paramref name="id"/>'s model.</summary>
    public Task<ForecastView> ServeForecastAsync(string id, string csvText, CancellationToken ct = default) =>
        Send<ForecastView>(() => new HttpRequestMessage(HttpMethod.Post, $"models/{Uri.EscapeDataString(id)}/forecast")
        {
            Content = new StringContent(csvText, System.Text.Encoding.UTF8, "text/csv"),
        }, ct);

    /// <summary>A job group (<c>group-N</c>, from a submission with symbol=all or a list): its state and every member.</summary>
    public Task<GroupView> GroupStatusAsync(string id, CancellationToken ct = default) =>
        Send<GroupView>(() => new HttpRequestMessage(HttpMethod.Get, $"groups/{Uri.EscapeDataString(id)}"), ct);

    /// <summary>One of a finished group's files: summary.json, series.csv, forecast.csv, grid.png.</summary>
    public async Task<byte[]> GroupFileAsync(string id, string name, CancellationToken ct = default)
    {
        using var response = await SendRaw(new HttpRequestMessage(HttpMethod.Get, $"groups/{Uri.EscapeDataString(id)}/files/{Uri.EscapeDataString(name)}"), ct);
        return await response.Content.ReadAsByteArrayAsync(ct);
    }

    public Task<JobView> CancelAsync(string id, CancellationToken ct = default) =>
        Send<JobView>(() => new HttpRequestMessage(HttpMethod.Delete, $"jobs/{Uri.EscapeDataString(id)}"), ct);

    /// <summary>
    /// DELETE on a job (<c>jobs/{id}</c>) or a group (<c>groups/{id}</c>): an ended one is deleted with its files (state
    /// <c>Deleted</c>), a queued or running one cancelled (its state then).
    /// </summary>
    public Task<DeletedView> DeleteAsync(string id, bool group = false, CancellationToken ct = default) =>
        Send<DeletedView>(() => new HttpRequestMessage(HttpMethod.Delete, $"{(group ? "groups" : "jobs")}/{Uri.EscapeDataString(id)}"), ct);

    /// <summary>One of a succeeded job's files by relative name (<c>metrics.json</c>, <c>forecast.csv</c>, <c>forecast.png</c>, <c>model/spec.json</c>, ...).</summary>
    public async Task<byte[]> ArtifactAsync(string id, string name, CancellationToken ct = default)
    {
        string path = string.Join('/', name.Split('/').Select(Uri.EscapeDataString));
        using var response = await SendRaw(new HttpRequestMessage(HttpMethod.Get, $"jobs/{Uri.EscapeDataString(id)}/files/{path}"), ct);
        return await response.Content.ReadAsByteArrayAsync(ct);
    }

    /// <summary>A succeeded job's model files (model/spec.json, ..., weights.bin) as one zip.</summary>
    public async Task<byte[]> ModelZipAsync(string id, CancellationToken ct = default)
    {
        using var response = await SendRaw(new HttpRequestMessage(HttpMethod.Get, $"jobs/{Uri.EscapeDataString(id)}/model"), ct);
        return await response.Content.ReadAsByteArrayAsync(ct);
    }

    private async Task<T> Send<T>(Func<HttpRequestMessage> request, CancellationToken ct)
    {
        using var response = await SendRaw(request(), ct);
        try
        {
            return await response.Content.ReadFromJsonAsync<T>(JobApiJson.Options, ct)
                ?? throw new JobApiException(response.StatusCode, "the server sent an empty answer", Url(response.RequestMessage));
        }
        catch (JsonException e)
        {
            throw new JobApiException(response.StatusCode, $"the server's answer is not the expected JSON: {e.Message}", Url(response.RequestMessage));
        }
    }

    private async Task<HttpResponseMessage> SendRaw(HttpRequestMessage request, CancellationToken ct)
    {
        string url = Url(request);
        if (token is not null) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        HttpResponseMessage response;
        try
        {
            response = await http.SendAsync(request, ct);
        }
        catch (HttpRequestException e) when (e.InnerException is AuthenticationException && certificates?.LastRefusal is { } problem)
        {
            throw new JobApiCertificateException(url, problem, e);
        }
        catch (HttpRequestException e)
        {
            throw new JobApiUnreachableException(url,
                e.InnerException is SocketException s ? new IOException(s.Message, s)
                : e.InnerException is AuthenticationException tls ? new IOException($"the TLS handshake failed ({tls.Message.TrimEnd('.')}): does the server speak HTTPS on this port?", tls)
                // Plain HTTP to an HTTPS port: the server waits for a TLS hello, takes the request for a bad one and hangs up.
                : e.HttpRequestError == HttpRequestError.ResponseEnded && Server.Scheme == Uri.UriSchemeHttp
                    ? new IOException("the server closed the connection without an answer; if it serves HTTPS, use an https:// URL", e)
                : e);
        }
        catch (TaskCanceledException e) when (!ct.IsCancellationRequested)
        {
            throw new JobApiUnreachableException(url, new TimeoutException($"no answer within {http.Timeout.TotalSeconds:0} s", e));
        }
        finally
        {
            request.Dispose();
        }
        if (response.IsSuccessStatusCode) return response;
        using (response)
        {
            string body = await response.Content.ReadAsStringAsync(ct);
            string reason;
            try
            {
                reason = JsonSerializer.Deserialize<ErrorView>(body, JobApiJson.Options)?.Error ?? body;
            }
            catch (JsonException)
            {
                reason = string.IsNullOrWhiteSpace(body) ? response.ReasonPhrase ?? "error" : body.Trim();
            }
            // The server says only that the token is missing or not accepted; what to do about it is the client's to say.
            if (response.StatusCode == HttpStatusCode.Unauthorized)
                reason = token is null
                    ? "the server refused the request: it needs a token (--token, or LSTMCLUSTER_TOKEN)"
                    : "the server refused the token: it is not one the server accepts";
            throw new JobApiException(response.StatusCode, reason, url);
        }
    }

    private string Url(HttpRequestMessage? request) =>
        request?.RequestUri is { } uri ? (uri.IsAbsoluteUri ? uri : new Uri(http.BaseAddress!, uri)).ToString() : http.BaseAddress!.ToString();

    public void Dispose()
    {
        if (ownsClient) http.Dispose();
    }
}
