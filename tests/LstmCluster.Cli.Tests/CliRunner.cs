namespace LstmCluster.Cli.Tests;

/// <summary>Runs the real CLI entry point in-process and captures what it prints.</summary>
public static class CliRunner
{
    public sealed record Result(int ExitCode, string Out, string Error);

    private static readonly object ConsoleLock = new();

    /// <summary>What <paramref name="print"/> writes to the console, under the same lock as <see cref="Run"/>.</summary>
    public static string Capture(Action print)
    {
        lock (ConsoleLock)
        {
            var oldOut = Console.Out;
            var stdout = new StringWriter();
            Console.SetOut(stdout);
            try
            {
                print();
                return stdout.ToString();
            }
            finally
            {
                Console.SetOut(oldOut);
            }
        }
    }

    public static Result Run(params string[] args)
    {
        lock (ConsoleLock)
        {
            var (oldOut, oldErr) = (Console.Out, Console.Error);
            var (stdout, stderr) = (new StringWriter(), new StringWriter());
            Console.SetOut(stdout);
            Console.SetError(stderr);
            try
            {
                int code = CliApp.Run(args);
                return new Result(code, stdout.ToString(), stderr.ToString());
            }
            finally
            {
                Console.SetOut(oldOut);
                Console.SetError(oldErr);
            }
        }
    }

    public static string Sample(string name) => RepoFile(Path.Combine("samples", name));

    /// <summary>A file of the repository, found by walking up from the test assembly to the solution file.</summary>
    public static string RepoFile(string relative)
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "LstmCluster.sln"))) dir = dir.Parent;
        return Path.Combine(dir?.FullName ?? throw new InvalidOperationException("repo root not found"), relative);
    }

    public static string TempDir()
    {
        var path = Path.Combine(Path.GetTempPath(), "lstmcluster-cli-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(path);
        return path;
    }
}
