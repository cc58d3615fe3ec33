using System.Net;
using ConsentService.Tests.Audit;
using ConsentService.Tests.Infrastructure;
using static ConsentService.Tests.Infrastructure.Api;

namespace ConsentService.Tests.PrivacyConsole;

/// <summary>Each test moves its own app's clock, so each has an app of its own.</summary>
public sealed class ConsoleSessionExpiryTests
{
    [Fact]
    public async Task An_unused_session_ends_after_the_idle_time_and_its_cookie_stays_dead()
    {
        using var app = new ConsentApiFactory();
        var site = await app.CreateAuditedSiteAsync();
        var login = await app.SignInAsync(site.LegalKey);

        app.Time.Advance(TimeSpan.FromMinutes(29));
        Assert.Equal(HttpStatusCode.OK, (await app.GetAsync($"/v1/sites/{site.Id}/consents", login)).StatusCode); // used: moved on
        app.Time.Advance(TimeSpan.FromMinutes(29));
        Assert.Equal(HttpStatusCode.OK, await app.SessionStatusAsync(login.Cookie));
        var info = await ReadJsonAsync(await app.SendAsync(HttpMethod.Get, "/console/api/session", login.Cookie));
        Assert.Equal(app.Time.GetUtcNow().AddMinutes(30), info["expiresAt"]!.GetValue<DateTimeOffset>());

        app.Time.Advance(TimeSpan.FromMinutes(30));
        Assert.Equal(HttpStatusCode.Unauthorized, (await app.GetAsync($"/v1/sites/{site.Id}/consents", login)).StatusCode);
        var expired = await app.SendAsync(HttpMethod.Get, "/console/api/session", login.Cookie);
        Assert.Equal(HttpStatusCode.Unauthorized, expired.StatusCode);
        Assert.Contains(expired.Headers.GetValues("Set-Cookie"), c => c.StartsWith("cs_session=;", StringComparison.Ordinal));
        Assert.Equal(0, await app.SessionRowsAsync()); // deleted, not only refused: a clock set back brings nothing back
    }

    [Fact]
    public async Task A_busy_session_still_ends_at_its_absolute_lifetime()
    {
        using var app = new ConsentApiFactory();
        var site = await app.CreateAuditedSiteAsync();
        var login = await app.SignInAsync(site.AdminKey);
        for (var minutes = 20; minutes < 8 * 60; minutes += 20)
        {
            app.Time.Advance(TimeSpan.FromMinutes(20));
            Assert.Equal(HttpStatusCode.OK, await app.SessionStatusAsync(login.Cookie));
        }
        app.Time.Advance(TimeSpan.FromMinutes(20)); // 8 h after sign-in
        Assert.Equal(HttpStatusCode.Unauthorized, await app.SessionStatusAsync(login.Cookie));
    }

    [Fact]
    public async Task Idle_and_lifetime_are_configurable()
    {
        using var app = new ConsentApiFactory
        {
            Settings = new Dictionary<string, string> { ["Console:SessionIdle"] = "00:05:00", ["Console:SessionLifetime"] = "01:00:00" },
        };
        var login = await app.SignInAsync(ConsentApiFactory.OperatorKey);
        Assert.Equal(app.Time.GetUtcNow().AddMinutes(5), login.Body["expiresAt"]!.GetValue<DateTimeOffset>());
        Assert.Equal(app.Time.GetUtcNow().AddHours(1), login.Body["absoluteExpiresAt"]!.GetValue<DateTimeOffset>());
        app.Time.Advance(TimeSpan.FromMinutes(6));
        Assert.Equal(HttpStatusCode.Unauthorized, await app.SessionStatusAsync(login.Cookie));
    }

    [Theory]
    [InlineData("Console:SessionIdle", "00:00:10")]
    [InlineData("Console:SessionIdle", "09:00:00")]
    [InlineData("Console:SessionLifetime", "30.00:00:00")]
    [InlineData("Console:FailedSignInsPerClient:PermitLimit", "0")]
    public void Settings_that_make_no_sense_stop_the_service_at_startup(string key, string value)
    {
        using var app = new ConsentApiFactory { Settings = new Dictionary<string, string> { [key] = value } };
        var failure = Assert.ThrowsAny<Exception>(() => app.CreateClient());
        Assert.Contains(key.Split(':')[1], failure.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_rotated_operator_key_ends_the_operators_sessions()
    {
        var data = ConsentApiFactory.NewDataDirectory();
        string cookie;
        using (var before = new ConsentApiFactory { DataDirectory = data, KeepDataDirectory = true })
        {
            cookie = (await before.SignInAsync(ConsentApiFactory.OperatorKey)).Cookie;
            Assert.Equal(HttpStatusCode.OK, await before.SessionStatusAsync(cookie));
        }
        using var after = new ConsentApiFactory { DataDirectory = data, Settings = new Dictionary<string, string> { ["Admin:ApiKey"] = "cso_rotated-operator-key-0123456789abcdef" } };
        Assert.Equal(HttpStatusCode.Unauthorized, await after.SessionStatusAsync(cookie));
    }
}

public sealed class ConsoleSignInLimitTests
{
    private static ConsentApiFactory App(int perClient, int perPrefix) => new()
    {
        ClientAddressFromHeader = true,
        Settings = new Dictionary<string, string>
        {
            ["Console:FailedSignInsPerClient:PermitLimit"] = perClient.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Console:FailedSignInsPerKeyPrefix:PermitLimit"] = perPrefix.ToString(System.Globalization.CultureInfo.InvariantCulture),
        },
    };

    [Fact]
    public async Task After_too_many_failures_from_one_address_even_the_right_key_gets_429_there_and_other_addresses_are_unaffected()
    {
        using var app = App(perClient: 3, perPrefix: 100);
        var site = await app.CreateAuditedSiteAsync();
        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(HttpStatusCode.Unauthorized, (await app.PostSignInAsync($"csk_guess{i}{new string('x', 40)}", "203.0.113.7")).StatusCode);
        }
        var limited = await app.PostSignInAsync(site.AdminKey, "203.0.113.7");
        await AssertProblemAsync(limited, HttpStatusCode.TooManyRequests, "rate-limited");
        Assert.True(int.Parse(limited.Headers.GetValues("Retry-After").Single(), System.Globalization.CultureInfo.InvariantCulture) >= 1);
        Assert.False(limited.Headers.Contains("Set-Cookie"));

        Assert.Equal(HttpStatusCode.OK, (await app.PostSignInAsync(site.AdminKey, "198.51.100.9")).StatusCode);
        // Successes cost nothing.
        for (var i = 0; i < 5; i++) Assert.Equal(HttpStatusCode.OK, (await app.PostSignInAsync(site.LegalKey, "198.51.100.9")).StatusCode);
    }

    [Fact]
    public async Task Failures_with_one_key_prefix_from_many_addresses_lock_that_prefix()
    {
        using var app = App(perClient: 100, perPrefix: 3);
        var site = await app.CreateAuditedSiteAsync();
        var prefix = site.LegalKey[..12];
        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(HttpStatusCode.Unauthorized, (await app.PostSignInAsync(prefix + $"wrong{i}" + new string('y', 30), $"203.0.113.{i + 1}")).StatusCode);
        }
        Assert.Equal(HttpStatusCode.TooManyRequests, (await app.PostSignInAsync(site.LegalKey, "203.0.113.50")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await app.PostSignInAsync(site.AdminKey, "203.0.113.50")).StatusCode); // another prefix
    }
}
