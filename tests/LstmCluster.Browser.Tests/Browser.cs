using OpenQA.Selenium;
using OpenQA.Selenium.Chrome;

namespace LstmCluster.Browser.Tests;

/// <summary>
/// Debian's chromium and its chromedriver (packages <c>chromium</c> and <c>chromium-driver</c>; <c>.ci/run</c> installs them), or
/// the paths in <c>LSTMCLUSTER_CHROMIUM</c> and <c>LSTMCLUSTER_CHROMEDRIVER</c>. Never downloaded: Selenium Manager is not asked.
/// </summary>
internal static class Browser
{
    private const string Packages = "apt-get install -y chromium chromium-driver";

    /// <summary>The browser and driver executables; when either is missing the test is skipped naming the packages, and fails in CI.</summary>
    public static (string Chromium, string ChromeDriver) Locate()
    {
        string chromium = Find("LSTMCLUSTER_CHROMIUM", "chromium", "chromium-browser");
        string driver = Find("LSTMCLUSTER_CHROMEDRIVER", "chromedriver");
        var missing = new List<string>();
        if (!File.Exists(chromium)) missing.Add($"chromium ({chromium})");
        if (!File.Exists(driver)) missing.Add($"chromedriver ({driver})");
        LstmCluster.Tests.Shared.Prerequisite.Require(missing.Count == 0 ? null
            : $"the dashboard's browser test needs {string.Join(" and ", missing)}: install Debian's packages ({Packages}) "
                + "or set LSTMCLUSTER_CHROMIUM / LSTMCLUSTER_CHROMEDRIVER");
        return (chromium, driver);
    }

    /// <summary>Headless chromium with a laptop-sized window (1366 x 900), its console kept for the test to read.</summary>
    public static ChromeDriver Start(string chromium, string chromedriver)
    {
        var service = ChromeDriverService.CreateDefaultService(Path.GetDirectoryName(chromedriver)!, Path.GetFileName(chromedriver));
        service.SuppressInitialDiagnosticInformation = true;
        service.HideCommandPromptWindow = true;
        var options = new ChromeOptions { BinaryLocation = chromium };
        // --no-sandbox: CI runs as root in a container, where chromium's sandbox cannot start.
        options.AddArguments("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--window-size=1366,900",
            "--no-first-run", "--no-default-browser-check", "--disable-extensions", "--lang=en-US");
        options.SetLoggingPreference(LogType.Browser, LogLevel.All);
        return new ChromeDriver(service, options, TimeSpan.FromSeconds(120));
    }

    private static string Find(string variable, params string[] names)
    {
        if (Environment.GetEnvironmentVariable(variable) is { Length: > 0 } given) return given;
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "/usr/bin").Split(Path.PathSeparator).Append("/usr/bin").Append("/usr/lib/chromium"))
            foreach (var name in names)
            {
                string path = Path.Combine(dir, name);
                if (File.Exists(path)) return path;
            }
        return Path.Combine("/usr/bin", names[0]);
    }
}
