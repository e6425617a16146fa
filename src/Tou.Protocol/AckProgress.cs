namespace Tou.Protocol;

/// <summary>What one ACK found so far in <see cref="LossDetector.OnAck"/>, threaded through its cumulative and selective parts.</summary>
internal struct AckProgress
{
    public long Delivered;     // bytes the cumulative acknowledgement delivered (newly SACKed ones are counted apart)
    public long NewestSentUs;  // RACK: the newest transmission delivered
    public long NewestEnd;
    public long RttSampleUs;
    public int Spurious;
    public bool UndoRecovery;
    public int InvalidSackBlocks;
}
