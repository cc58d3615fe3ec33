using System.Net;
using System.Text.Json.Nodes;
using ConsentService.Consents;
using ConsentService.Infrastructure;
using ConsentService.Storage;

namespace ConsentService.Tests.Unit;

public sealed class ProofPrimitivesTests
{
    [Fact]
    public void Canonical_json_sorts_members_by_code_unit_and_escapes_minimally()
    {
        var node = JsonNode.Parse("""{ "b": [1, true, null], "a": "x\n\"é€😀", "B": {"z": 2, "y": -3}, "\u00e9": 1, "\u20ac": 0 }""");
        // RFC 8785: UTF-16 code-unit order ("B" < "a" < "b" < "é" < "€"); only '"', '\' and controls escaped.
        Assert.Equal("{\"B\":{\"y\":-3,\"z\":2},\"a\":\"x\\n\\\"é€😀\",\"b\":[1,true,null],\"é\":1,\"€\":0}", CanonicalJson.Serialize(node));
    }

    [Fact]
    public void Canonical_strings_escape_quotes_backslashes_and_control_characters_with_the_short_forms_first()
    {
        // Already canonical, so it must come out as it went in: escapes at both ends, next to each other, and in a run.
        const string canonical = """{"s":"\"start\\mid\b\f\n\r\t\u0001\u001f end/é😀\"","t":"plain","u":""}""";
        Assert.Equal(canonical, CanonicalJson.Serialize(JsonNode.Parse(canonical)));
    }

    [Fact]
    public void Canonical_hash_is_sha256_of_the_utf8_canonical_form()
    {
        // printf '{"a":1}' | sha256sum
        Assert.Equal("015abd7f5cc57a2dd94b7590f04ad8084273905ee33ec5cebeae62276a97f862", CanonicalJson.Sha256Hex(JsonNode.Parse("""{ "a" : 1 }""")));
    }

    [Fact]
    public void Canonical_json_refuses_fractional_numbers_rather_than_hash_them_ambiguously()
    {
        Assert.Throws<NotSupportedException>(() => CanonicalJson.Serialize(JsonNode.Parse("""{"a":1.5}""")));
    }

    [Fact]
    public void A_record_hash_changes_with_every_hashed_field()
    {
        var key = new byte[32];
        var record = new ConsentRecord("id", "site", "sub", ConsentChain.Commit(key, "sub"), 1, 1, 1, "ph",
            new Dictionary<string, bool> { ["analytics"] = true }, ConsentMethod.Custom, null, null,
            DateTimeOffset.UnixEpoch, null, null, null, "");
        var hash = ConsentChain.Hash(record);
        Assert.NotEqual(hash, ConsentChain.Hash(record with { Sequence = 2 }));
        Assert.NotEqual(hash, ConsentChain.Hash(record with { Position = 2 }));
        Assert.NotEqual(hash, ConsentChain.Hash(record with { Purposes = new Dictionary<string, bool> { ["analytics"] = false } }));
        Assert.NotEqual(hash, ConsentChain.Hash(record with { Method = ConsentMethod.AcceptAll }));
        Assert.NotEqual(hash, ConsentChain.Hash(record with { PrevHash = "00" }));
        Assert.NotEqual(hash, ConsentChain.Hash(record with { RecordedAt = DateTimeOffset.UnixEpoch.AddMilliseconds(1) }));
        // The raw subject id is not hashed: only its commitment, so erasing the key unlinks the chain.
        Assert.Equal(hash, ConsentChain.Hash(record with { SubjectId = "erased" }));
        Assert.NotEqual(ConsentChain.Commit(key, "sub"), ConsentChain.Commit(new byte[32].Select(_ => (byte)1).ToArray(), "sub"));
    }

    public static TheoryData<string, string?, bool> Drafts => new()
    {
        // subject id, source url (null: no source), whether the store has a key of its own for the subject
        { "sub_new", "https://shop.example/", false },
        { "sub_returning", "https://shop.example/?q=\"quoted\"\\\u0001", true },
        { "user-42", null, false },
        { "user-43", null, true },
    };

    [Theory]
    [MemberData(nameof(Drafts))]
    public void A_draft_sealed_by_the_writer_hashes_to_exactly_the_records_canonical_form(string subjectId, string? url, bool storedKey)
    {
        var offered = Enumerable.Range(0, 32).Select(i => (byte)i).ToArray();
        var stored = storedKey ? Enumerable.Range(0, 32).Select(i => (byte)(255 - i)).ToArray() : offered;
        var draft = new ConsentRecord("0193-id", "site_1", subjectId, "", 0, 0, 3, "policy-hash",
            new Dictionary<string, bool> { ["z_last"] = false, ["analytics"] = true, ["Ads"] = true, ["necessary"] = true }, ConsentMethod.Custom,
            url is null ? null : new ConsentSource(url, "de", "gdpr", "Firefox 128 (Linux)", "203.0.113.0/24"),
            null, DateTimeOffset.UnixEpoch.AddMilliseconds(1_733_000_000_123), "idem", "request-hash", null, "");

        foreach (var head in new[] { new ChainHead(stored, 0, null, 1), new ChainHead(stored, 41, "ab12", 9_000_000_001) })
        {
            var record = new ConsentChain.Draft(draft, offered).Seal(head);

            Assert.Equal((head.Sequence + 1, head.Position, head.Hash), (record.Sequence, record.Position, record.PrevHash));
            Assert.Equal(ConsentChain.Commit(stored, subjectId), record.SubjectCommitment); // under the key the store has
            Assert.Equal(ConsentChain.CommitSource(stored, draft.Source), record.SourceCommitment);
            Assert.Equal(ConsentChain.Hash(record), record.Hash);
        }
    }

    [Theory]
    [InlineData("203.0.113.77", "203.0.113.0/24")]
    [InlineData("::ffff:198.51.100.9", "198.51.100.0/24")]
    [InlineData("2001:db8:abcd:12:1:2:3:4", "2001:db8:abcd::/48")]
    public void Ip_addresses_are_truncated(string address, string expected) =>
        Assert.Equal(expected, SourceMinimizer.IpPrefix(IPAddress.Parse(address)));

    [Theory]
    [InlineData("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.2903.86", "Edge 131 (Windows)")]
    [InlineData("Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1", "Safari 17 (iOS)")]
    [InlineData("Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0", "Firefox 128 (Linux)")]
    [InlineData("Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.6478.122 Mobile Safari/537.36", "Chrome 126 (Android)")]
    [InlineData("curl/8.5.0", "Other (Other)")]
    public void User_agents_are_reduced_to_browser_major_version_and_os(string userAgent, string expected) =>
        Assert.Equal(expected, SourceMinimizer.UserAgent(userAgent));

    [Theory]
    [InlineData("https://shop.example/cart?coupon=X#top", "https://shop.example/cart")]
    [InlineData("http://localhost:5080/", "http://localhost:5080/")]
    [InlineData("javascript:alert(1)", null)]
    [InlineData("https://user:pw@shop.example/", null)]
    public void Page_urls_lose_query_and_fragment(string url, string? expected) =>
        Assert.Equal(expected, SourceMinimizer.PageUrl(url));
}
