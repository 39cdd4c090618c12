using LstmCluster.Hosting.Tests;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using LstmCluster.Hosting.Node;
using OpenQA.Selenium;
using OpenQA.Selenium.Chrome;
using OpenQA.Selenium.Support.UI;
using Xunit.Abstractions;

namespace LstmCluster.Browser.Tests;

/// <summary>
/// The dashboard in headless chromium against a real node (every role in this process, an API token set): the page loads
/// without a token and says it needs one, takes the token, submits AirPassengers through the form, shows the job reach
/// Succeeded in the list, draws its loss curve and forecast plot, lists the cluster's members, and draws a long job's curve as
/// it trains until its Cancel button stops it, and lists a sweep group with its members. A screenshot of each page
/// goes to <c>screenshots/</c> in the test output directory (or <c>LSTMCLUSTER_SCREENSHOTS</c>).
/// </summary>
public sealed class DashboardBrowserTests(ITestOutputHelper output) : IDisposable
{
    private const string Token = "a-dashboard-token-of-32-characters";
    private const int Epochs = 6;

    /// <summary>Bounds a broken run only: every wait ends on a DOM state.</summary>
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(180);

    private readonly string state = Path.Combine(Path.GetTempPath(), "lstmcluster-tests", $"dashboard-{Guid.NewGuid():N}");

    [SkippableFact]
    public async Task Dashboard_submits_a_job_through_the_form_and_shows_its_progress_loss_curve_forecast_the_cluster_and_cancels_a_running_job()
    {
        var (chromium, chromedriver) = Browser.Locate();
        int port = TestNodes.FreePort();
        var app = NodeHost.Build(new NodeOptions
        {
            Host = "127.0.0.1", Port = 0, HttpPort = port, TorchThreads = 1, StateDir = state, ApiToken = Token,
        });
        await app.StartAsync();
        string screenshots = ScreenshotDirectory();
        try
        {
            string root = $"http://127.0.0.1:{port}";
            using (var http = new HttpClient { BaseAddress = new Uri(root + "/"), Timeout = TimeSpan.FromSeconds(10) })
                await TestNodes.WaitReady(http);
            using var driver = Browser.Start(chromium, chromedriver);
            try
            {
                await Drive(driver, root, screenshots);
            }
            catch (WebDriverTimeoutException)
            {
                // What the page showed when the wait gave up, for the reader of the failure.
                Save(driver, screenshots, "failure.png");
                output.WriteLine($"page at {driver.Url}:\n{driver.FindElement(By.TagName("body")).Text}");
                foreach (var entry in driver.Manage().Logs.GetLog(LogType.Browser)) output.WriteLine($"browser {entry.Level}: {entry.Message}");
                throw;
            }
        }
        finally
        {
            await app.StopAsync();
            await app.DisposeAsync();
        }
    }

    private async Task Drive(ChromeDriver driver, string root, string screenshots)
    {
        var wait = new WebDriverWait(driver, Patience) { PollingInterval = TimeSpan.FromMilliseconds(100) };
        // The pages re-render what they poll: an element found a moment ago may be gone; the wait looks again.
        wait.IgnoreExceptionTypes(typeof(StaleElementReferenceException));

        // The page itself needs no token; its first API call says one is needed.
        driver.Navigate().GoToUrl(root + "/");
        var error = wait.Until(d => d.FindElement(By.Id("error")) is { Displayed: true } e && e.Text.Length > 0 ? e : null);
        Assert.Contains("API token", error.Text, StringComparison.Ordinal);

        // Keyboard: the first Tab reaches the skip link, which moves focus to the main content.
        driver.FindElement(By.TagName("body")).SendKeys(Keys.Tab);
        Assert.Equal("skip", driver.SwitchTo().ActiveElement().GetAttribute("class"));
        driver.SwitchTo().ActiveElement().SendKeys(Keys.Enter);
        wait.Until(d => d.SwitchTo().ActiveElement().GetAttribute("id") == "main");

        // The token, typed and entered: kept in the tab's sessionStorage, the list loads.
        var token = driver.FindElement(By.Id("token"));
        token.SendKeys(Token);
        token.SendKeys(Keys.Enter);
        wait.Until(d => !d.FindElement(By.Id("error")).Displayed && d.FindElement(By.Id("jobs-empty")).Displayed);
        Assert.Equal(Token, ((IJavaScriptExecutor)driver).ExecuteScript("return sessionStorage.getItem('lstmcluster.token')"));

        // Submit AirPassengers through the form.
        driver.FindElement(By.CssSelector("nav a[data-page='submit']")).Click();
        wait.Until(d => d.FindElement(By.Id("page-submit")).Displayed);
        driver.FindElement(By.Id("f-data")).SendKeys(AirPassengers);
        Fill(driver, "f-target", "value");
        Fill(driver, "f-lookback", "12");
        Fill(driver, "f-season", "12");
        Fill(driver, "f-epochs", Epochs.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Fill(driver, "f-hidden", "8");
        Fill(driver, "f-layers", "1");
        Fill(driver, "f-patience", "0");
        Save(driver, screenshots, "submit.png");
        driver.FindElement(By.Id("submit-button")).Click();
        wait.Until(d => d.Url.Contains("#/job/", StringComparison.Ordinal) || d.FindElement(By.Id("submit-status")).Text.StartsWith("Not submitted", StringComparison.Ordinal));
        Assert.True(driver.Url.Contains("#/job/", StringComparison.Ordinal), driver.FindElement(By.Id("submit-status")).Text);
        string id = Uri.UnescapeDataString(driver.Url[(driver.Url.IndexOf("#/job/", StringComparison.Ordinal) + "#/job/".Length)..]);

        // The list shows it end; it must have succeeded. The list re-renders every poll: a row is read in one script, atomically.
        driver.FindElement(By.CssSelector("nav a[data-page='jobs']")).Click();
        string ended = wait.Until(d => d.FindElements(By.CssSelector($"tr[data-job-id='{id}']")).Select(r => r.GetAttribute("data-state"))
            .FirstOrDefault(s => s is "Succeeded" or "Failed" or "Cancelled"));
        var row = (IReadOnlyDictionary<string, object>)((IJavaScriptExecutor)driver).ExecuteScript("""
            const r = document.querySelector(`tr[data-job-id='${arguments[0]}']`), p = r.querySelector('progress');
            return { text: r.innerText, max: String(p.max), value: String(p.value), epoch: r.cells[3].innerText, mase: r.cells[6].innerText, best: r.cells[7].innerText };
            """, id)!;
        Assert.True(ended == "Succeeded", $"job {id} ended {ended}: {row["text"]}");
        Assert.Equal(row["max"], row["value"]);
        Assert.Equal($"{Epochs} / {Epochs}", row["epoch"]);
        Assert.Matches(@"^\d", (string)row["mase"]); // test MASE, and whether it beats the best naive baseline
        Assert.Matches(@"^[a-z_]+ \(\d", (string)row["best"]); // the best naive baseline and its MASE
        Save(driver, screenshots, "jobs.png");

        // The job page: a loss curve with every epoch's points, the forecast plot loaded, the tables filled.
        wait.Until(d =>
        {
            d.FindElement(By.CssSelector($"tr[data-job-id='{id}'] a")).Click();
            return true;
        });
        wait.Until(d => d.FindElement(By.Id("page-job")).GetAttribute("data-state") == "Succeeded"
            && d.FindElement(By.Id("loss-chart")).GetAttribute("data-points") == Epochs.ToString(System.Globalization.CultureInfo.InvariantCulture));
        var chart = driver.FindElement(By.Id("loss-chart"));
        Assert.Equal(2 * Epochs, chart.FindElements(By.CssSelector("circle")).Count);
        Assert.Equal(2, chart.FindElements(By.CssSelector("polyline")).Count);
        wait.Until(d => (bool)((IJavaScriptExecutor)d).ExecuteScript(
            "const i = document.getElementById('forecast-plot'); return i.complete && i.naturalWidth > 0;")!);
        wait.Until(d => d.FindElements(By.CssSelector("#predictions-table tbody tr")).Count > 0);
        Assert.NotEmpty(driver.FindElements(By.CssSelector("#forecast-table tbody tr")));
        Assert.Equal(6, driver.FindElements(By.CssSelector("#downloads button")).Count);
        Assert.Equal("Delete job", driver.FindElement(By.Id("job-cancel")).Text);
        Save(driver, screenshots, "job.png", fullPage: true);

        // The curve is the coordinator's: the same epochs the history endpoint serves.
        using (var http = new HttpClient { BaseAddress = new Uri(root) })
        {
            http.DefaultRequestHeaders.Authorization = new("Bearer", Token);
            using var history = JsonDocument.Parse(await http.GetStringAsync($"/jobs/{id}/history"));
            Assert.Equal(Epochs, history.RootElement.GetProperty("epochs").GetArrayLength());
        }

        // The cluster page: this node, with every role, Up and reachable; per-worker figures of the finished job.
        driver.FindElement(By.CssSelector("nav a[data-page='cluster']")).Click();
        string member = wait.Until(d => d.FindElements(By.CssSelector("#members-body tr")).Select(r => r.Text).FirstOrDefault());
        Assert.Contains("Up", member, StringComparison.Ordinal);
        Assert.Contains("coordinator", member, StringComparison.Ordinal);
        Assert.Contains("worker", member, StringComparison.Ordinal);
        Assert.Contains("yes", member, StringComparison.Ordinal);
        // Per-worker figures come from the latest finished job's metrics.json; a cluster job's has none yet, and the page says so.
        string throughput = wait.Until(d => d.FindElement(By.Id("throughput-note")).Text is { } t && t.Contains(id, StringComparison.Ordinal) ? t : null);
        if (driver.FindElement(By.Id("throughput-table")).Displayed) Assert.NotEmpty(driver.FindElements(By.CssSelector("#throughput-body tr")));
        else Assert.Contains("has no per-worker figures", throughput, StringComparison.Ordinal);
        Assert.StartsWith("Ready", driver.FindElement(By.Id("cluster-ready")).Text, StringComparison.Ordinal);
        Save(driver, screenshots, "cluster.png");

        // A sweep group (submitted over the API): the jobs page lists it with its state, its members and the sweep's best trial.
        string group;
        using (var http = new HttpClient { BaseAddress = new Uri(root) })
        {
            http.DefaultRequestHeaders.Authorization = new("Bearer", Token);
            using var form = new MultipartFormDataContent();
            var file = new ByteArrayContent(File.ReadAllBytes(AirPassengers));
            file.Headers.ContentType = new("text/csv");
            form.Add(file, "data", "AirPassengers.csv");
            foreach (var (name, value) in new Dictionary<string, string>
                     {
                         ["target"] = "value", ["lookback"] = "12", ["season"] = "12", ["layers"] = "1", ["patience"] = "0", ["normalize"] = "window",
                         ["grid"] = "hidden=4,8", ["eta"] = "2", ["min-epochs"] = "1", ["max-epochs"] = "2",
                     })
                form.Add(new StringContent(value), name);
            using var submitted = await http.PostAsync("/sweeps", form);
            Assert.Equal(HttpStatusCode.Accepted, submitted.StatusCode);
            using var body = JsonDocument.Parse(await submitted.Content.ReadAsStringAsync());
            group = body.RootElement.GetProperty("id").GetString()!;
        }
        driver.FindElement(By.CssSelector("nav a[data-page='jobs']")).Click();
        string groupEnded = wait.Until(d => d.FindElements(By.CssSelector($"tr[data-group-id='{group}']")).Select(r => r.GetAttribute("data-state"))
            .FirstOrDefault(s => s is "Succeeded" or "Failed" or "Cancelled"));
        Assert.Equal("Succeeded", groupEnded);
        driver.FindElement(By.CssSelector($"details[data-group='{group}'] summary")).Click();
        var groupRow = (IReadOnlyDictionary<string, object>)wait.Until(d => ((IJavaScriptExecutor)d).ExecuteScript("""
            const r = document.querySelector(`tr[data-group-id='${arguments[0]}']`), m = r.querySelector('details');
            return m && m.open ? { kind: r.cells[1].innerText, members: String(m.querySelectorAll('li').length), summary: m.querySelector('summary').innerText,
                sweep: r.querySelector('td.sweep').innerText, links: String(m.querySelectorAll('li a').length) } : null;
            """, group))!;
        Assert.Equal("sweep", groupRow["kind"]);
        // Two trials in round 1, the better one in round 2: three member jobs, each a link to its job page.
        Assert.Equal(("3", "3"), ((string)groupRow["members"], (string)groupRow["links"]));
        Assert.StartsWith("3 members: 3 succeeded", (string)groupRow["summary"], StringComparison.Ordinal);
        Assert.Matches(@"^2 trials, round 2 of 2; best: trial [12] \(validation MASE \d", (string)groupRow["sweep"]);
        Save(driver, screenshots, "groups.png", fullPage: true);

        // A long job: its curve grows while it trains, and the Cancel button stops it.
        driver.FindElement(By.CssSelector("nav a[data-page='submit']")).Click();
        wait.Until(d => d.FindElement(By.Id("page-submit")).Displayed);
        Fill(driver, "f-epochs", "5000");
        driver.FindElement(By.Id("submit-button")).Click();
        wait.Until(d => d.Url.Contains("#/job/", StringComparison.Ordinal) && !d.Url.EndsWith("/" + id, StringComparison.Ordinal));
        int Points(IWebDriver d) => int.Parse(d.FindElement(By.Id("loss-chart")).GetAttribute("data-points") ?? "0", System.Globalization.CultureInfo.InvariantCulture);
        int seen = int.Parse(wait.Until(d => d.FindElement(By.Id("page-job")).GetAttribute("data-state") == "Running" && Points(d) >= 2
            ? d.FindElement(By.Id("loss-chart")).GetAttribute("data-points") : null)!, System.Globalization.CultureInfo.InvariantCulture);
        wait.Until(d => d.FindElement(By.Id("page-job")).GetAttribute("data-state") == "Running" && Points(d) > seen);
        Assert.Equal("Cancel job", driver.FindElement(By.Id("job-cancel")).Text);
        Save(driver, screenshots, "job-running.png");
        driver.FindElement(By.Id("job-cancel")).Click();
        wait.Until(d => d.FindElement(By.Id("page-job")).GetAttribute("data-state") == "Cancelled");
        Assert.Contains("Cancelled", driver.FindElement(By.Id("job-live")).Text, StringComparison.Ordinal);

        // No script error and no content-security-policy violation on the way.
        // (Chrome logs a failed fetch as an error: the one 401 before the token was entered is expected.)
        var severe = driver.Manage().Logs.GetLog(LogType.Browser).Where(l => l.Level == LogLevel.Severe)
            .Select(l => l.Message).Where(m => !m.Contains("status of 401", StringComparison.Ordinal)).ToList();
        Assert.True(severe.Count == 0, "browser errors:\n" + string.Join("\n", severe));
    }

    private static void Fill(IWebDriver driver, string id, string value)
    {
        var input = driver.FindElement(By.Id(id));
        input.Clear();
        input.SendKeys(value);
    }

    /// <summary>A screenshot of the window; with <paramref name="fullPage"/>, of the whole page (the window grown to its height meanwhile).</summary>
    private void Save(IWebDriver driver, string directory, string name, bool fullPage = false)
    {
        string path = Path.Combine(directory, name);
        var window = driver.Manage().Window;
        var size = window.Size;
        if (fullPage)
        {
            long height = (long)((IJavaScriptExecutor)driver).ExecuteScript("return document.documentElement.scrollHeight")!;
            window.Size = new System.Drawing.Size(size.Width, (int)Math.Min(height + 140, 6000));
        }
        ((ITakesScreenshot)driver).GetScreenshot().SaveAsFile(path);
        if (fullPage) window.Size = size;
        output.WriteLine($"screenshot: {path}");
        Console.WriteLine($"screenshot: {path}");
    }

    /// <summary><c>LSTMCLUSTER_SCREENSHOTS</c>, else <c>screenshots/</c> in the test output directory.</summary>
    private static string ScreenshotDirectory()
    {
        string dir = Environment.GetEnvironmentVariable("LSTMCLUSTER_SCREENSHOTS") is { Length: > 0 } given
            ? Path.GetFullPath(given)
            : Path.Combine(AppContext.BaseDirectory, "screenshots");
        Directory.CreateDirectory(dir);
        return dir;
    }

    private static string AirPassengers
    {
        get
        {
            var dir = new DirectoryInfo(AppContext.BaseDirectory);
            while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "LstmCluster.sln"))) dir = dir.Parent;
            return Path.Combine(dir?.FullName ?? throw new InvalidOperationException("repo root not found"), "samples", "AirPassengers.csv");
        }
    }



    public void Dispose() => TestNodes.DeleteState(state);
}
