using System.Security.Cryptography;

namespace ConsentService.Storage;

/// <summary>
/// A random 32-byte secret made once per deployment and kept in the consent store under <paramref name="name"/>
/// (<see cref="IConsentStore.GetOrAddSecretAsync"/>), so every instance that shares the store uses the same bytes.
/// Read once per process; a failed read (store unreachable) is not remembered, the next call tries again.
/// </summary>
public sealed class DeploymentSecret(IConsentStore store, string name) : IDisposable
{
    private readonly SemaphoreSlim _loading = new(1, 1);
    private byte[]? _value;

    public ValueTask<byte[]> GetAsync(CancellationToken ct) =>
        Volatile.Read(ref _value) is { } value ? ValueTask.FromResult(value) : new(LoadAsync(ct));

    private async Task<byte[]> LoadAsync(CancellationToken ct)
    {
        await _loading.WaitAsync(ct);
        try
        {
            return _value ??= await store.GetOrAddSecretAsync(name, RandomNumberGenerator.GetBytes(32), ct);
        }
        finally
        {
            _loading.Release();
        }
    }

    public void Dispose() => _loading.Dispose();
}
