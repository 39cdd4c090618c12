using System.Diagnostics;

namespace LstmCluster.Cli.Tests;

/// <summary>
/// Debian's PyTorch (<c>python3-torch</c>, for <c>/usr/bin/python3</c>), a tool of the interchange tests and never of
/// the product. Without it those tests are skipped saying what to install, and fail in CI (<see cref="LstmCluster.Tests.Shared.Prerequisite"/>;
/// <c>.ci/run</c> installs it).
/// </summary>
public static class PyTorchTool
{
    public const string Python = "/usr/bin/python3";

    private static readonly Lazy<string?> Missing = new(Probe);

    /// <summary>Runs <paramref name="script"/> with <paramref name="args"/> and returns its standard output; fails the test on a non-zero exit.</summary>
    public static string Run(string script, params string[] args)
    {
        LstmCluster.Tests.Shared.Prerequisite.Require(Missing.Value);
        var (code, stdout, stderr) = Exec([script, .. args], TimeSpan.FromMinutes(2));
        Assert.True(code == 0, $"{Python} {script} {string.Join(' ', args)} exited {code}:\n{stderr}");
        return stdout;
    }

    private static string? Probe()
    {
        string install = "install Debian's PyTorch: apt-get install -y python3-torch (.ci/run does this when it is missing)";
        if (!File.Exists(Python)) return $"the PyTorch interchange tests need {Python} with torch; {install}";
        var (code, stdout, stderr) = Exec(["-c", "import torch; print(torch.__version__)"], TimeSpan.FromMinutes(1));
        return code == 0 ? null : $"the PyTorch interchange tests need torch for {Python}, which cannot import it ({stderr.Trim().Split('\n')[^1]}); {install}";
    }

    private static (int Code, string Out, string Error) Exec(string[] args, TimeSpan timeout)
    {
        var start = new ProcessStartInfo(Python) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) start.ArgumentList.Add(a);
        // One thread: no contention on a shared machine, and the same sums on every run.
        start.Environment["OMP_NUM_THREADS"] = "1";
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"cannot start {Python}");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(timeout))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"{Python} {string.Join(' ', args)} did not finish within {timeout.TotalSeconds:0} s");
        }
        return (process.ExitCode, stdout.Result, stderr.Result);
    }
}
