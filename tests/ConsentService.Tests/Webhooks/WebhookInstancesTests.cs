using ConsentService.Tests.Infrastructure;
using static ConsentService.Tests.Infrastructure.Api;
using static ConsentService.Tests.Webhooks.WebhookApi;

namespace ConsentService.Tests.Webhooks;

/// <summary>Two instances of one deployment, each with its worker: leases let one of them send each message.</summary>
public sealed class WebhookInstancesTests
{
    [Fact]
    public async Task Two_instances_deliver_every_message_once_between_them_in_order_per_subject()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        using var first = App();
        var settings = new Dictionary<string, string>(first.Settings);
        using var second = new ConsentApiFactory { SharesDatabaseWith = first, Settings = settings };
        var site = await first.CreateSiteAsync();
        await first.RegisterAsync(site, receiver.Url);
        _ = second.Server; // start the second instance (and its worker)

        string[] subjects = [NewSubjectId(), NewSubjectId(), NewSubjectId()];
        var positions = new List<(string Subject, long Position)>();
        for (var i = 0; i < 24; i++)
        {
            var app = i % 2 == 0 ? first : second;
            var record = await app.RecordForAsync(site, subjects[i % 3], i % 4 < 2 ? "accept_all" : "reject_all");
            positions.Add((subjects[i % 3], record["position"]!.GetValue<long>()));
        }
        await receiver.WaitForAsync(r => r.Accepted.Count >= 24, "every decision");
        await Task.Delay(300);
        Assert.Equal(24, receiver.Requests.Count); // nothing sent twice
        Assert.Equal(24, receiver.Requests.Select(r => r.Id).Distinct().Count());
        foreach (var subject in subjects)
        {
            Assert.Equal(positions.Where(p => p.Subject == subject).Select(p => p.Position),
                receiver.Accepted.Where(m => m.Data["subjectId"]!.GetValue<string>() == subject).Select(m => m.Data["position"]!.GetValue<long>()));
        }
    }
}
