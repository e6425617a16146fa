using System.Security.Cryptography;

namespace Tou.Protocol.Tests.Harness;

/// <summary>
/// Application model for one side of a connection: writes a payload (seeded random bytes) as the send
/// buffer allows, reads everything that arrives (optionally only every so often, to play a slow reader),
/// closes its sending side when done and hashes what it received.
/// </summary>
public sealed class StreamApp
{
    private readonly byte[] _payload;
    private readonly IncrementalHash _received = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
    private readonly byte[] _readBuffer = new byte[64 * 1024];
    private int _sent;

    public StreamApp(TouConnection connection, byte[] payload, bool closeWhenDone = true)
    {
        Connection = connection;
        _payload = payload;
        CloseWhenDone = closeWhenDone;
        ExpectedHashOfSent = SHA256.HashData(payload);
    }

    public TouConnection Connection { get; }

    public bool CloseWhenDone { get; }

    public byte[] ExpectedHashOfSent { get; }

    public long ReceivedBytes { get; private set; }

    /// <summary>When set, reading happens only while this returns true (a reader that pauses).</summary>
    public Func<bool>? ReadGate { get; set; }

    /// <summary>Most bytes read per call (a slow reader).</summary>
    public int MaxReadPerCall { get; set; } = int.MaxValue;

    public bool DoneSending => _sent == _payload.Length;

    public bool ReceiveCompleted => Connection.IsReadCompleted;

    public byte[] ReceivedHash() => _received.GetCurrentHash();

    public void Run()
    {
        if (Connection.State == TouConnectionState.Connecting)
        {
            return;
        }

        while (Connection.State == TouConnectionState.Established && _sent < _payload.Length)
        {
            int n = Connection.Write(_payload.AsSpan(_sent));
            if (n == 0)
            {
                break;
            }

            _sent += n;
        }

        if (_sent == _payload.Length && CloseWhenDone && Connection.State == TouConnectionState.Established)
        {
            Connection.CloseSend();
        }

        if (ReadGate is null || ReadGate())
        {
            int budget = MaxReadPerCall;
            while (budget > 0)
            {
                int n = Connection.Read(_readBuffer.AsSpan(0, Math.Min(_readBuffer.Length, budget)));
                if (n == 0)
                {
                    break;
                }

                _received.AppendData(_readBuffer, 0, n);
                ReceivedBytes += n;
                budget -= n;
            }
        }
    }

    public static byte[] RandomPayload(int seed, int length)
    {
        var data = new byte[length];
        new Random(seed).NextBytes(data);
        return data;
    }
}
