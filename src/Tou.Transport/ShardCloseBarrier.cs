namespace Tou.Transport;

/// <summary>
/// Keeps the sockets of one SO_REUSEPORT group open until every shard is done. The kernel picks a group member by a
/// hash of the 4-tuple modulo the group's size, so closing one shard's socket moves other shards' peers onto sockets
/// that do not know them: a lingering connection would then lose the ACKs of its last bytes. A drained shard therefore
/// waits here before closing, and the group closes its sockets together.
/// </summary>
internal sealed class ShardCloseBarrier
{
    private readonly TaskCompletionSource _allDone = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _remaining;

    public ShardCloseBarrier(int shards)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(shards, 1);
        _remaining = shards;
    }

    /// <summary>A shard has finished with its connections; completes when every shard of the group has.</summary>
    public Task ArriveAsync()
    {
        if (Interlocked.Decrement(ref _remaining) == 0)
        {
            _allDone.TrySetResult();
        }

        return _allDone.Task;
    }
}
