using ConsentService.Tests.Api;
using YamlDotNet.Serialization;

namespace ConsentService.Tests.Deployment;

/// <summary>
/// No Docker engine runs here, so the compose stack is checked as a document: the services, their
/// health checks, ports and the variables that wire the service to MongoDB and Redis.
/// </summary>
public sealed class ComposeFileTests
{
    private static readonly string Root = OpenApiAndHealthTests.RepositoryRoot();

    private static Dictionary<object, object> Compose() =>
        new Deserializer().Deserialize<Dictionary<object, object>>(File.ReadAllText(Path.Combine(Root, "docker-compose.yml")));

    private static Dictionary<object, object> Service(string name) =>
        (Dictionary<object, object>)((Dictionary<object, object>)Compose()["services"])[name];

    private static List<string> Strings(object list) => [.. ((List<object>)list).Select(o => (string)o)];

    [Fact]
    public void The_stack_has_mongodb_redis_and_the_service_each_with_a_health_check()
    {
        var services = (Dictionary<object, object>)Compose()["services"];
        Assert.Equal(["consent", "mongo", "redis"], services.Keys.Cast<string>().Order());
        Assert.All(services.Values.Cast<Dictionary<object, object>>(), s => Assert.True(s.ContainsKey("healthcheck")));
    }

    [Fact]
    public void Mongodb_runs_as_a_single_node_replica_set_that_the_compose_file_initiates()
    {
        var mongo = Service("mongo");
        Assert.StartsWith("mongo:", (string)mongo["image"]);
        var command = Strings(mongo["command"]);
        Assert.Equal("rs0", command[command.IndexOf("--replSet") + 1]);
        var check = string.Join(' ', Strings(((Dictionary<object, object>)mongo["healthcheck"])["test"]));
        Assert.Contains("rs.initiate", check);
        Assert.Contains("host: 'mongo:27017'", check); // the address the service connects to
        Assert.Contains("27017:27017", Strings(mongo["ports"]));
    }

    [Fact]
    public void The_service_is_on_port_8080_wired_to_both_and_starts_after_they_are_healthy()
    {
        var consent = Service("consent");
        Assert.Contains("8080:8080", Strings(consent["ports"]));
        var environment = ((Dictionary<object, object>)consent["environment"]).ToDictionary(e => (string)e.Key, e => (string)e.Value);
        Assert.Equal("mongodb://mongo:27017/consent?replicaSet=rs0", environment["ConnectionStrings__Mongo"]);
        Assert.Equal("redis:6379", environment["ConnectionStrings__Redis"]);
        Assert.Equal("8080", environment["ASPNETCORE_HTTP_PORTS"]);
        Assert.StartsWith("${CONSENT_ADMIN_KEY:?", environment["Admin__ApiKey"]); // required, no default secret
        // The one signing key of the deployment, from the environment: required (Production on MongoDB refuses to start without).
        Assert.StartsWith("${CONSENT_SIGNING_KEY:?", environment["Signing__PrivateKey"]);
        Assert.Equal("Production", environment["ASPNETCORE_ENVIRONMENT"]);

        var dependsOn = (Dictionary<object, object>)consent["depends_on"];
        foreach (var dependency in new[] { "mongo", "redis" })
        {
            Assert.Equal("service_healthy", ((Dictionary<object, object>)dependsOn[dependency])["condition"]);
        }
        Assert.Contains("/health/ready", string.Join(' ', Strings(((Dictionary<object, object>)consent["healthcheck"])["test"])));
    }

    [Fact]
    public void The_dockerfile_the_stack_builds_exists_and_copies_paths_that_exist()
    {
        var build = (Dictionary<object, object>)Service("consent")["build"];
        var dockerfile = Path.Combine(Root, (string)build["context"], (string)build["dockerfile"]);
        var lines = File.ReadAllLines(dockerfile);

        foreach (var copy in lines.Where(l => l.StartsWith("COPY ", StringComparison.Ordinal) && !l.Contains("--from")))
        {
            var sources = copy.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1..^1];
            Assert.All(sources, source => Assert.True(
                File.Exists(Path.Combine(Root, source)) || Directory.Exists(Path.Combine(Root, source)), $"{copy}: {source} does not exist"));
        }
        Assert.Contains(lines, l => l.StartsWith("ENTRYPOINT", StringComparison.Ordinal) && l.Contains("ConsentService.dll"));
        Assert.Contains(lines, l => l.StartsWith("HEALTHCHECK", StringComparison.Ordinal) && l.Contains("/health/ready"));
    }
}
