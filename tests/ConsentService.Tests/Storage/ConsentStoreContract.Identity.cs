using ConsentService.Consents;
using ConsentService.Identity;

namespace ConsentService.Tests.Storage;

/// <summary>Identified users (issue 15 §1): identity secrets and subject links, on every adapter.</summary>
public abstract partial class ConsentStoreContract
{
    private static readonly DateTimeOffset L0 = new(2026, 11, 25, 9, 0, 0, TimeSpan.Zero);

    [SkippableFact]
    public async Task Identity_secrets_are_listed_per_site_oldest_first_with_their_seed_and_revoked_once()
    {
        byte[] seed = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32];
        await Store.AddIdentitySecretAsync(new IdentitySecret("cid_b", "s1", seed, "cis_…bbbb", L0.AddMinutes(1), null), default);
        await Store.AddIdentitySecretAsync(new IdentitySecret("cid_a", "s1", [9, 9], "cis_…aaaa", L0, null), default);
        await Store.AddIdentitySecretAsync(new IdentitySecret("cid_x", "s2", [7], "cis_…xxxx", L0, null), default);

        var listed = await Store.ListIdentitySecretsAsync("s1", default);
        Assert.Equal(["cid_a", "cid_b"], listed.Select(s => s.Id));
        Assert.Equal(seed, listed[1].Seed);
        Assert.Equal(("s1", "cis_…bbbb", L0.AddMinutes(1)), (listed[1].SiteId, listed[1].Hint, listed[1].CreatedAt));
        Assert.All(listed, s => Assert.Null(s.RevokedAt));

        Assert.False(await Store.RevokeIdentitySecretAsync("s1", "cid_x", L0, default)); // another site's
        Assert.False(await Store.RevokeIdentitySecretAsync("s1", "cid_none", L0, default));
        Assert.True(await Store.RevokeIdentitySecretAsync("s1", "cid_b", L0.AddHours(1), default));
        Assert.True(await Store.RevokeIdentitySecretAsync("s1", "cid_b", L0.AddHours(2), default));
        Assert.Equal(L0.AddHours(1), (await Store.ListIdentitySecretsAsync("s1", default)).Single(s => s.Id == "cid_b").RevokedAt);
        Assert.Null((await Store.ListIdentitySecretsAsync("s2", default)).Single().RevokedAt);
    }

    [SkippableFact]
    public async Task A_link_needs_the_anonymous_subjects_write_secret_is_kept_once_and_goes_with_an_erasure_of_either_side()
    {
        await AppendAsAsync("s1", "sub_phone", SecretA);
        await AppendAsAsync("s1", "sub_laptop", SecretB);
        await AppendAsAsync("s1", "sub_nosecret", null); // written by a back end: no secret to prove

        Assert.False(await Store.LinkSubjectAsync("s1", "alice", "sub_phone", SecretB, L0, default)); // wrong secret
        Assert.False(await Store.LinkSubjectAsync("s1", "alice", "sub_unknown", SecretA, L0, default));
        Assert.False(await Store.LinkSubjectAsync("s1", "alice", "sub_nosecret", SecretA, L0, default));
        Assert.False(await Store.LinkSubjectAsync("s2", "alice", "sub_phone", SecretA, L0, default)); // another site
        Assert.Empty(await Store.ListLinkedSubjectsAsync("s1", "alice", default));

        Assert.True(await Store.LinkSubjectAsync("s1", "alice", "sub_laptop", SecretB, L0.AddMinutes(2), default));
        Assert.True(await Store.LinkSubjectAsync("s1", "alice", "sub_phone", SecretA, L0.AddMinutes(1), default));
        Assert.True(await Store.LinkSubjectAsync("s1", "alice", "sub_phone", SecretA, L0.AddMinutes(9), default)); // again: the first time stays
        Assert.True(await Store.LinkSubjectAsync("s1", "bob", "sub_phone", SecretA, L0.AddMinutes(3), default)); // a shared device
        Assert.Equal([new SubjectLink("sub_phone", L0.AddMinutes(1)), new SubjectLink("sub_laptop", L0.AddMinutes(2))],
            await Store.ListLinkedSubjectsAsync("s1", "alice", default));
        Assert.Empty(await Store.ListLinkedSubjectsAsync("s2", "alice", default));

        // Erasing the anonymous side removes its links, for every user it was linked to.
        await Store.EraseSubjectAsync("s1", "sub_phone", default);
        Assert.Equal(["sub_laptop"], (await Store.ListLinkedSubjectsAsync("s1", "alice", default)).Select(l => l.SubjectId));
        Assert.Empty(await Store.ListLinkedSubjectsAsync("s1", "bob", default));
        // Erasing the user removes the rest, whether or not the user has records of its own.
        await Store.EraseSubjectAsync("s1", "alice", default);
        Assert.Empty(await Store.ListLinkedSubjectsAsync("s1", "alice", default));
        Assert.NotNull(await Store.GetCurrentConsentAsync("s1", "sub_laptop", default));
    }
}
