using System.Text.RegularExpressions;

namespace Flywheel.Server.Tests.Deploy;

/// <summary>
/// The Dockerfile's promises, checked without a Docker engine: the image runs as a non-root user,
/// serves on port 8000 with a health check on readiness, takes models from a volume, and only COPYs
/// what the build context holds. (Its probe path is checked against a real server in KubernetesManifestTests.)
/// </summary>
public sealed class DockerfileTests
{
    private static readonly IReadOnlyList<DockerStage> Stages = DeployFiles.Dockerfile();

    private static DockerStage Final => Stages[^1];

    private static DockerStage Stage(string name) => Assert.Single(Stages, s => s.Name == name);

    [Fact]
    public void TheFinalImageIsTheRuntimeStageDeviceNamesAndBothExist()
    {
        Assert.Equal("runtime-${DEVICE}", Final.Image);
        Assert.Equal("cpu", DeployFiles.DockerGlobalArgs()["DEVICE"]);
        foreach (var device in new[] { "cpu", "cuda" })
        {
            var stage = Stage("runtime-" + device);
            Assert.Equal(["dotnet", "/app/" + CliAssemblyName() + ".dll"], DeployFiles.ExecForm(stage.Single("ENTRYPOINT")));
            var cmd = DeployFiles.ExecForm(stage.Single("CMD"));
            Assert.Equal("serve", cmd[0]);
            Assert.Equal("0.0.0.0", DeployFiles.Option(cmd, "--host"));
            Assert.Equal(ExposedPort().ToString(System.Globalization.CultureInfo.InvariantCulture), DeployFiles.Option(cmd, "--port"));
            Assert.Equal(device, DeployFiles.Option(cmd, "--device") ?? "cpu");
        }

        // ENTRYPOINT in the final stage would reset the CMD inherited from the runtime stage.
        Assert.Empty(Final.All("ENTRYPOINT"));
        Assert.Empty(Final.All("CMD"));
    }

    [Fact]
    public void RunsAsTheNonRootUserTheRuntimeStagesCreate()
    {
        var user = Final.Single("USER").Arguments;
        var match = Regex.Match(user, @"^(\d+)(:(\d+))?$");
        Assert.True(match.Success, $"USER '{user}' must be numeric so Kubernetes' runAsNonRoot can check it");
        Assert.NotEqual("0", match.Groups[1].Value);
        foreach (var device in new[] { "cpu", "cuda" })
        {
            var run = string.Join(" ", Stage("runtime-" + device).All("RUN").Select(r => r.Arguments));
            Assert.Contains($"--uid {match.Groups[1].Value}", run);
        }
    }

    [Fact]
    public void ExposesPort8000ChecksReadinessAndMountsModels()
    {
        Assert.Equal(8000, ExposedPort());
        Assert.Contains("\"/models\"", Final.Single("VOLUME").Arguments);
        var check = Final.Single("HEALTHCHECK").Arguments;
        Assert.Contains("curl -fsS http://127.0.0.1:8000" + HealthCheckPath(), check);
        Assert.Equal("/health/ready", HealthCheckPath());
        Assert.Equal("SIGTERM", Final.Single("STOPSIGNAL").Arguments); // what starts the drain
        foreach (var device in new[] { "cpu", "cuda" })
        {
            Assert.Contains("curl", string.Join(" ", Stage("runtime-" + device).All("RUN").Select(r => r.Arguments)));
        }
    }

    [Fact]
    public void CopiesOnlyWhatTheBuildContextHoldsAndStagesThatExist()
    {
        var names = Stages.Select(s => s.Name).OfType<string>().ToHashSet();
        foreach (var copy in Stages.SelectMany(s => s.All("COPY")))
        {
            var parts = copy.Arguments.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (parts[0].StartsWith("--from=", StringComparison.Ordinal))
            {
                var from = parts[0]["--from=".Length..];
                Assert.True(names.Contains(from) || from.Contains(':'), $"COPY {copy.Arguments}: no stage or tagged image '{from}'");
                continue;
            }

            foreach (var source in parts[..^1])
            {
                Assert.True(File.Exists(Path.Combine(DeployFiles.Root, source)) || Directory.Exists(Path.Combine(DeployFiles.Root, source)), $"COPY source '{source}' is not in the repository");
            }
        }

        // COPY . . must bring everything the build and the test stage use.
        foreach (var needed in new[] { "Flywheel.sln", "global.json", "Directory.Build.props", "Directory.Packages.props", "test.sh",
            "build/OnnxRuntime.targets", ".ci/install-deps.sh", "src/Flywheel.Cli/Flywheel.Cli.csproj", "tests/Flywheel.Server.Tests/Flywheel.Server.Tests.csproj",
            "loadgen", "benchmarks", "dashboards/prometheus.yml", "deploy/kubernetes/deployment.yaml", "Dockerfile" })
        {
            Assert.True(File.Exists(Path.Combine(DeployFiles.Root, needed)) || Directory.Exists(Path.Combine(DeployFiles.Root, needed)), needed);
            Assert.True(DeployFiles.InBuildContext(needed), $".dockerignore leaves '{needed}' out of the build context");
        }

        Assert.False(DeployFiles.InBuildContext("src/Flywheel.Cli/bin/Release/net10.0/flywheel.dll"));
        Assert.False(DeployFiles.InBuildContext(".git/HEAD"));
    }

    [Fact]
    public void TheCudaImageIsBuiltWithOrtsGpuPackageOnCuda13()
    {
        // ONNX Runtime 1.32's GPU package needs CUDA 13 and cuDNN 9 at run time.
        Assert.Matches(@"^nvidia/cuda:13\.\d+\.\d+-cudnn-runtime-", DeployFiles.DockerGlobalArgs()["CUDA_IMAGE"]);
        Assert.Equal("${CUDA_IMAGE}", Stage("runtime-cuda").Image);

        // The build picks the package by DEVICE (Microsoft.ML.OnnxRuntime or .Gpu.Linux through
        // build/OnnxRuntime.targets); the natives land next to the app, where ORT looks for its providers.
        var build = string.Join(" ", Stage("build").All("RUN").Select(r => r.Arguments));
        Assert.Contains("-p:FlywheelDevice=${DEVICE}", build);
        Assert.Contains("test -f /app/libonnxruntime.so", build);
        Assert.Contains("test -f /app/libonnxruntime_providers_cuda.so", build);
        Assert.Contains("Include=\"Microsoft.ML.OnnxRuntime.Gpu.Linux\" Condition=\"'$(FlywheelDevice)' == 'cuda'\"",
            File.ReadAllText(Path.Combine(DeployFiles.Root, "build", "OnnxRuntime.targets")));
        foreach (var device in new[] { "cpu", "cuda" })
        {
            Assert.Contains(Stage("runtime-" + device).All("COPY"), c => c.Arguments == "--from=build /app /app");
        }

        // No npm in the build: ONNX Runtime comes from NuGet.
        Assert.DoesNotContain("npm", build);
    }

    internal static int ExposedPort() => int.Parse(Final.Single("EXPOSE").Arguments, System.Globalization.CultureInfo.InvariantCulture);

    internal static string HealthCheckPath() =>
        Regex.Match(Final.Single("HEALTHCHECK").Arguments, @"http://127\.0\.0\.1:\d+(/\S*)").Groups[1].Value;

    private static string CliAssemblyName() =>
        Regex.Match(File.ReadAllText(Path.Combine(DeployFiles.Root, "src", "Flywheel.Cli", "Flywheel.Cli.csproj")), "<AssemblyName>(.+)</AssemblyName>").Groups[1].Value;
}
