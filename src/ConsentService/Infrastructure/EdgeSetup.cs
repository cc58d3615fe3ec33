using System.Net;
using Microsoft.AspNetCore.HttpOverrides;
using Microsoft.Extensions.Options;

namespace ConsentService.Infrastructure;

/// <summary>
/// Setting <c>PublicUrl</c>: the service's public base URL (e.g. <c>https://consent.example.com</c>), written
/// into <c>consent.js</c> and <c>…/config</c> as the address to post decisions to. Optional: without it
/// nothing is written there and the snippet posts to where it was loaded from (its own
/// <c>&lt;script src&gt;</c>). Never taken from a request's <c>Host</c> header, which the client chooses.
/// </summary>
public sealed class PublicUrlOptions
{
    public const string Setting = "PublicUrl";

    public string? PublicUrl { get; set; }

    /// <summary>The configured URL without a trailing slash, or null.</summary>
    public string? Base => PublicUrl is { Length: > 0 } url ? url.TrimEnd('/') : null;
}

public sealed class PublicUrlOptionsValidator : IValidateOptions<PublicUrlOptions>
{
    public ValidateOptionsResult Validate(string? name, PublicUrlOptions options) =>
        options.PublicUrl is not { Length: > 0 } url
        || (Uri.TryCreate(url, UriKind.Absolute, out var uri) && uri.Scheme is "https" or "http"
            && uri.UserInfo.Length == 0 && uri.Query.Length == 0 && uri.Fragment.Length == 0)
            ? ValidateOptionsResult.Success
            : ValidateOptionsResult.Fail($"{PublicUrlOptions.Setting} must be an absolute http(s) URL without user, query or fragment, " +
                $"such as 'https://consent.example.com'; it is '{url}'.");
}

/// <summary>
/// Configuration section <c>ForwardedHeaders</c>: the reverse proxies whose <c>X-Forwarded-For</c> and
/// <c>X-Forwarded-Proto</c> are believed. Nothing configured: only a proxy on this machine (loopback).
/// </summary>
public sealed class ProxyOptions
{
    public const string Section = "ForwardedHeaders";

    /// <summary>Addresses of the proxies, e.g. <c>10.0.0.5</c>.</summary>
    public string[] KnownProxies { get; set; } = [];

    /// <summary>Networks of the proxies in CIDR notation, e.g. <c>10.0.0.0/8</c>.</summary>
    public string[] KnownNetworks { get; set; } = [];

    /// <summary>How many proxies in a row to step back through (each must be known).</summary>
    public int ForwardLimit { get; set; } = 1;
}

public sealed class ProxyOptionsValidator : IValidateOptions<ProxyOptions>
{
    public ValidateOptionsResult Validate(string? name, ProxyOptions options)
    {
        var failures = new List<string>();
        failures.AddRange(options.KnownProxies.Where(p => !IPAddress.TryParse(p, out _))
            .Select(p => $"{ProxyOptions.Section}:KnownProxies: '{p}' is not an IP address."));
        failures.AddRange(options.KnownNetworks.Where(n => !System.Net.IPNetwork.TryParse(n, out _))
            .Select(n => $"{ProxyOptions.Section}:KnownNetworks: '{n}' is not a network in CIDR notation such as 10.0.0.0/8."));
        if (options.ForwardLimit is < 1 or > 10) failures.Add($"{ProxyOptions.Section}:ForwardLimit must be between 1 and 10.");
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}

/// <summary>
/// What the service believes about where a request came from: its public URL from configuration,
/// the client address from forwarded headers only when a configured proxy sent them (the address
/// picks the rate-limit bucket and the stored IP prefix), and the <c>Host</c> header checked against
/// <c>AllowedHosts</c> (ASP.NET Core's host filtering).
/// </summary>
public static partial class EdgeSetup
{
    public static WebApplicationBuilder AddEdge(this WebApplicationBuilder builder)
    {
        var services = builder.Services;
        services.AddOptions<PublicUrlOptions>().Configure<IConfiguration>((o, config) => o.PublicUrl = config[PublicUrlOptions.Setting]).ValidateOnStart();
        services.AddSingleton<IValidateOptions<PublicUrlOptions>, PublicUrlOptionsValidator>();
        services.AddOptions<ProxyOptions>().BindConfiguration(ProxyOptions.Section).ValidateOnStart();
        services.AddSingleton<IValidateOptions<ProxyOptions>, ProxyOptionsValidator>();
        // PostConfigure: it also replaces what ASPNETCORE_FORWARDEDHEADERS_ENABLED sets up, which trusts every sender.
        services.AddOptions<ForwardedHeadersOptions>().PostConfigure<IOptions<ProxyOptions>>((o, proxies) =>
        {
            var config = proxies.Value;
            o.ForwardedHeaders = ForwardedHeaders.XForwardedFor | ForwardedHeaders.XForwardedProto;
            o.ForwardLimit = config.ForwardLimit;
            if (config.KnownProxies.Length == 0 && config.KnownNetworks.Length == 0) return; // ASP.NET Core's default: loopback
            o.KnownProxies.Clear();
            o.KnownIPNetworks.Clear();
            foreach (var proxy in config.KnownProxies) o.KnownProxies.Add(IPAddress.Parse(proxy));
            foreach (var network in config.KnownNetworks) o.KnownIPNetworks.Add(System.Net.IPNetwork.Parse(network));
        });
        return builder;
    }

    /// <summary>First in the pipeline, so the rate limiter, the audit log and the endpoints see the visitor's address.</summary>
    public static WebApplication UseEdge(this WebApplication app)
    {
        app.UseForwardedHeaders();
        if (!app.Environment.IsDevelopment() && app.Configuration["AllowedHosts"] is null or "*")
        {
            LogAnyHost(app.Logger);
        }
        return app;
    }

    [LoggerMessage(LogLevel.Warning, "AllowedHosts is '*': requests for any Host are served. Set AllowedHosts to the service's host names " +
        "(e.g. 'consent.example.com;localhost') so requests naming another host are refused with 400.")]
    private static partial void LogAnyHost(ILogger logger);
}
