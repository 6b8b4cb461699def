using System.Globalization;
using System.Net;
using Flywheel.Models.Building;
using Flywheel.Scheduling;
using Flywheel.Server.Hosting;

namespace Flywheel.Server.Tests.Deploy;

/// <summary>
/// deploy/kubernetes against the server it deploys: probe and scrape paths answer on a real server, ports
/// agree, the grace period covers preStop + drain + abort, and the HPA's metric is one the server exports
/// and the Prometheus adapter serves. No cluster is needed (none runs here).
/// </summary>
public sealed class KubernetesManifestTests
{
    private static readonly Dictionary<object, object> Deployment = DeployFiles.Manifest("Deployment");

    private static Dictionary<object, object> PodSpec => DeployFiles.Map(Deployment, "spec.template.spec");

    private static Dictionary<object, object> Container => Assert.IsType<Dictionary<object, object>>(Assert.Single(DeployFiles.List(PodSpec, "containers")));

    private static IReadOnlyList<string> Args => DeployFiles.List(Container, "args").Cast<string>().ToList();

    private static int ContainerPort(string name) =>
        DeployFiles.Int(Assert.Single(DeployFiles.List(Container, "ports"), p => DeployFiles.Text(p, "name") == name), "containerPort");

    [Fact]
    public void KustomizationListsEveryManifestAndEachParses()
    {
        var listed = DeployFiles.Resources().Order().ToList();
        var files = Directory.GetFiles(DeployFiles.KubernetesDir, "*.yaml").Select(f => Path.GetFileName(f))
            .Where(f => f is not ("kustomization.yaml" or "prometheus-adapter-values.yaml")).Order().ToList();
        Assert.Equal(files, listed);
        var kinds = listed.SelectMany(DeployFiles.Yaml).Select(d => $"{d["apiVersion"]} {d["kind"]}").Order().ToList();
        Assert.Equal(["apps/v1 Deployment", "autoscaling/v2 HorizontalPodAutoscaler", "policy/v1 PodDisruptionBudget", "v1 PersistentVolumeClaim", "v1 Service"], kinds);
    }

    [Fact]
    public async Task ProbeAndScrapePathsAreServedAndTheHpaMetricIsExported()
    {
        await using var server = await EngineServer.StartAsync("deploy-tiny", ModelBuilderOptions.Tiny with { VocabSize = 600 }, new EngineOptions());
        var annotations = DeployFiles.Map(Deployment, "spec.template.metadata.annotations");
        Assert.Equal("true", annotations["prometheus.io/scrape"]);
        var paths = new[]
        {
            DeployFiles.Text(Container, "readinessProbe.httpGet.path"),
            DeployFiles.Text(Container, "livenessProbe.httpGet.path"),
            DeployFiles.Text(Container, "startupProbe.httpGet.path"),
            DockerfileTests.HealthCheckPath(),
            (string)annotations["prometheus.io/path"],
        };
        Assert.Equal("/health/ready", paths[0]); // readiness must be the probe that turns 503 while draining
        foreach (var path in paths)
        {
            using var response = await server.Client.GetAsync(path);
            Assert.True(response.StatusCode == HttpStatusCode.OK, $"{path}: {response.StatusCode}");
        }

        var exposition = await server.Client.GetStringAsync((string)annotations["prometheus.io/path"]);
        var rule = Assert.IsType<Dictionary<object, object>>(Assert.Single(DeployFiles.List(DeployFiles.Yaml("prometheus-adapter-values.yaml")[0], "rules.custom")));
        var series = DeployFiles.Text(rule, "seriesQuery").Split('{')[0];
        Assert.Contains($"\n{series}{{", "\n" + exposition);
        Assert.Contains("<<.LabelMatchers>>", DeployFiles.Text(rule, "metricsQuery"));
        Assert.Equal("pod", DeployFiles.Text(rule, "resources.overrides.pod.resource"));

        var hpa = DeployFiles.Manifest("HorizontalPodAutoscaler");
        var metric = Assert.IsType<Dictionary<object, object>>(Assert.Single(DeployFiles.List(hpa, "spec.metrics")));
        Assert.Equal("Pods", DeployFiles.Text(metric, "type"));
        Assert.Equal(DeployFiles.Text(rule, "name.as"), DeployFiles.Text(metric, "pods.metric.name"));
        Assert.Matches(DeployFiles.Text(rule, "name.matches"), series);
    }

    [Fact]
    public void PortsAgreeAcrossArgsContainerServiceAnnotationAndImage()
    {
        var port = ContainerPort("http");
        Assert.Equal(port.ToString(CultureInfo.InvariantCulture), DeployFiles.Option(Args, "--port"));
        Assert.Equal("0.0.0.0", DeployFiles.Option(Args, "--host"));
        Assert.Equal(port, DockerfileTests.ExposedPort());
        Assert.Equal(port.ToString(CultureInfo.InvariantCulture), DeployFiles.Map(Deployment, "spec.template.metadata.annotations")["prometheus.io/port"]);
        foreach (var probe in new[] { "readinessProbe", "livenessProbe", "startupProbe" })
        {
            Assert.Equal("http", DeployFiles.Text(Container, probe + ".httpGet.port"));
        }

        var service = DeployFiles.Manifest("Service");
        var servicePort = Assert.Single(DeployFiles.List(service, "spec.ports"));
        Assert.Equal("http", DeployFiles.Text(servicePort, "targetPort"));
    }

    [Fact]
    public void TerminationGraceCoversPreStopDrainAndAbort()
    {
        var preStop = DeployFiles.List(Container, "lifecycle.preStop.exec.command").Cast<string>().ToList();
        Assert.Equal("sleep", preStop[0]);
        var preStopSeconds = double.Parse(preStop[1], CultureInfo.InvariantCulture);
        var drain = DeployFiles.Option(Args, "--drain-timeout") is { } d
            ? TimeSpan.FromSeconds(int.Parse(d, CultureInfo.InvariantCulture))
            : new ServerOptions().DrainTimeout;
        var needed = preStopSeconds + drain.TotalSeconds + RequestDrain.AbortGrace.TotalSeconds;
        var grace = DeployFiles.Int(PodSpec, "terminationGracePeriodSeconds");
        Assert.True(grace > needed, $"terminationGracePeriodSeconds {grace} must exceed preStop {preStopSeconds} s + drain {drain.TotalSeconds} s + abort grace {RequestDrain.AbortGrace.TotalSeconds} s");
        Assert.True(preStopSeconds > 0, "without a preStop pause, requests routed before endpoints update would get 503");
    }

    [Fact]
    public void SelectorsTargetsAndTheModelVolumeFitTogether()
    {
        var podLabels = DeployFiles.Labels(Deployment, "spec.template.metadata.labels");
        var selector = DeployFiles.Labels(Deployment, "spec.selector.matchLabels");
        Assert.Subset(podLabels.ToHashSet(), selector.ToHashSet());
        Assert.Subset(podLabels.ToHashSet(), DeployFiles.Labels(DeployFiles.Manifest("Service"), "spec.selector").ToHashSet());
        Assert.Equal(selector, DeployFiles.Labels(DeployFiles.Manifest("PodDisruptionBudget"), "spec.selector.matchLabels"));

        var hpa = DeployFiles.Manifest("HorizontalPodAutoscaler");
        Assert.Equal("Deployment", DeployFiles.Text(hpa, "spec.scaleTargetRef.kind"));
        Assert.Equal(DeployFiles.Text(Deployment, "metadata.name"), DeployFiles.Text(hpa, "spec.scaleTargetRef.name"));
        Assert.True(DeployFiles.Int(hpa, "spec.minReplicas") >= 2, "one replica cannot keep serving while it drains");
        Assert.False(DeployFiles.Map(Deployment, "spec").ContainsKey("replicas"), "the HPA owns the replica count");

        var mount = Assert.Single(DeployFiles.List(Container, "volumeMounts"), m => DeployFiles.Text(m, "name") == "models");
        Assert.Equal("/models", DeployFiles.Text(mount, "mountPath"));
        Assert.Contains("\"/models\"", DockerfileTestsVolume());
        Assert.StartsWith("/models/", DeployFiles.Option(Args, "--model"));
        var volume = Assert.Single(DeployFiles.List(PodSpec, "volumes"), v => DeployFiles.Text(v, "name") == "models");
        Assert.Equal(DeployFiles.Text(DeployFiles.Manifest("PersistentVolumeClaim"), "metadata.name"), DeployFiles.Text(volume, "persistentVolumeClaim.claimName"));
    }

    [Fact]
    public void ThreadsMatchTheCpuLimitAndThePodRunsAsTheImageUser()
    {
        var limits = DeployFiles.Map(Container, "resources.limits");
        Assert.Equal(limits, DeployFiles.Map(Container, "resources.requests"));
        Assert.Equal((string)limits["cpu"], DeployFiles.Option(Args, "--threads"));

        Assert.Equal("true", DeployFiles.Text(PodSpec, "securityContext.runAsNonRoot"));
        var imageUser = DeployFiles.Dockerfile()[^1].Single("USER").Arguments.Split(':')[0];
        Assert.Equal(imageUser, DeployFiles.Text(PodSpec, "securityContext.runAsUser"));
    }

    [Fact]
    public void APodListeningOnAllInterfacesTakesItsApiKeyFromARequiredSecret()
    {
        // --host 0.0.0.0 exposes /v1 to the whole cluster network: without a key anyone who reaches the pod can
        // use it. The key comes from a Secret the operator creates; a missing Secret must stop the pod from
        // starting (optional: false), not start it open.
        Assert.Equal("0.0.0.0", DeployFiles.Option(Args, "--host"));
        Assert.Null(DeployFiles.Option(Args, "--api-key")); // a key in args would sit in the manifest in clear
        var env = DeployFiles.List(Container, "env");
        var key = Assert.Single(env, e => DeployFiles.Text(e, "name") == "FLYWHEEL_API_KEY");
        Assert.False(string.IsNullOrEmpty(DeployFiles.Text(key, "valueFrom.secretKeyRef.name")));
        Assert.False(string.IsNullOrEmpty(DeployFiles.Text(key, "valueFrom.secretKeyRef.key")));
        var optional = DeployFiles.Map(key, "valueFrom.secretKeyRef").TryGetValue("optional", out var o) ? (string)o : "false";
        Assert.Equal("false", optional);
    }

    private static string DockerfileTestsVolume() => DeployFiles.Dockerfile()[^1].Single("VOLUME").Arguments;
}
