-- Wireshark dissector for TOU ("Transport Over UDP"), the protocol of Tou.Kestrel (docs/protocol.md).
-- Load it with:  wireshark -X lua_script:tools/wireshark/tou.lua   (or tshark), or copy it into the personal
-- Lua plugins folder (Help > About Wireshark > Folders). Checked by build/check-dissector.sh.
--
-- Decodes the 21-byte header, the extension offer of SYN and SYN+ACK payloads, option blocks (SACK blocks,
-- ACK delay, path MTU probe and echo, path challenge and response), data, and the trailer: CRC32C on SYN and
-- SYN+ACK, the keyed tag (CRC32C xor SipHash-2-4 of the header) on other packets, verified once the SYN+ACK's
-- secret was seen; with connection IDs (docs/protocol.md §5.7) the receiver's 8-byte ID precedes the tag, which
-- covers it. A connection that moved to a new address shows as a new stream there, its tags unverified.
-- Sequence analysis: per conversation (tou.stream), relative sequence and acknowledgement numbers from the
-- initial sequence number of each direction (the SYN's, the SYN+ACK's), as Wireshark does for TCP.
-- Registration: the UDP ports of the "ports" preference (default 5000, the seed's) and a heuristic that
-- accepts a datagram whose header repeats its UDP ports (as every TOU sender writes them).

local tou = Proto("tou", "Transport Over UDP (TOU)")

local HEADER = 21
local TRAILER = 4
local ID_TRAILER = 12 -- connection ID (8) and keyed tag (4)
local FLAG_FIN, FLAG_RST, FLAG_ACK, FLAG_SYN, FLAG_OPT, FLAG_PING = 0x01, 0x02, 0x04, 0x08, 0x10, 0x20

-- Lua 5.2 (Wireshark up to 4.2) has bit32; Lua 5.3+ has operators instead.
local bit = bit32 or load([[return {
  band = function(a, b) return a & b end, bxor = function(a, b) return a ~ b end,
  rshift = function(a, n) return (a & 0xFFFFFFFF) >> n end, bnot = function(a) return ~a & 0xFFFFFFFF end }]])()

local option_names = {
  [1] = "WINDOW_SCALE", [2] = "SACK_PERMITTED", [5] = "SACK", [6] = "INTEGRITY", [7] = "ACK_DELAY",
  [8] = "PMTU_PROBES", [9] = "PROBE", [10] = "PROBE_ECHO", [11] = "CONNECTION_ID", [12] = "PATH_CHALLENGE",
  [13] = "PATH_RESPONSE",
}
local trailer_kinds = { [1] = "CRC32C (handshake)", [2] = "keyed tag (CRC32C xor SipHash-2-4)", [3] = "connection ID and keyed tag" }
local trailer_states = { [0] = "unverified (secret not seen)", [1] = "good", [2] = "bad" }

local f = {
  srcport = ProtoField.uint16("tou.srcport", "Source port", base.DEC),
  dstport = ProtoField.uint16("tou.dstport", "Destination port", base.DEC),
  seq = ProtoField.uint32("tou.seq", "Sequence number (raw)", base.DEC),
  ack = ProtoField.uint32("tou.ack", "Acknowledgement number (raw)", base.DEC),
  flags = ProtoField.uint8("tou.flags", "Flags", base.HEX),
  fin = ProtoField.bool("tou.flags.fin", "FIN", 8, nil, FLAG_FIN),
  rst = ProtoField.bool("tou.flags.rst", "RST", 8, nil, FLAG_RST),
  ackf = ProtoField.bool("tou.flags.ack", "ACK", 8, nil, FLAG_ACK),
  syn = ProtoField.bool("tou.flags.syn", "SYN", 8, nil, FLAG_SYN),
  opt = ProtoField.bool("tou.flags.opt", "OPT (option block)", 8, nil, FLAG_OPT),
  ping = ProtoField.bool("tou.flags.ping", "PING (answer at once)", 8, nil, FLAG_PING),
  reserved = ProtoField.uint8("tou.flags.reserved", "Reserved", base.HEX, nil, 0xC0),
  window = ProtoField.uint16("tou.window", "Window", base.DEC),
  payload_len = ProtoField.uint16("tou.payload_len", "Payload length", base.DEC),
  mss = ProtoField.uint32("tou.mss", "MSS", base.DEC),
  stream = ProtoField.uint32("tou.stream", "Stream index", base.DEC),
  rel_seq = ProtoField.uint32("tou.rel_seq", "Sequence number (relative)", base.DEC),
  rel_ack = ProtoField.uint32("tou.rel_ack", "Acknowledgement number (relative)", base.DEC),
  len = ProtoField.uint32("tou.len", "Data length", base.DEC),
  magic = ProtoField.string("tou.offer.magic", "Extension offer magic"),
  version = ProtoField.uint8("tou.offer.version", "Extension version", base.DEC),
  options_len = ProtoField.uint8("tou.options.len", "Option block length", base.DEC),
  option_type = ProtoField.uint8("tou.option.type", "Option", base.DEC, option_names),
  option_len = ProtoField.uint8("tou.option.len", "Length", base.DEC),
  wscale = ProtoField.uint8("tou.option.wscale", "Window shift", base.DEC),
  secret = ProtoField.bytes("tou.option.integrity.secret", "Integrity secret"),
  value = ProtoField.bytes("tou.option.value", "Value"),
  sack_left = ProtoField.uint32("tou.sack.left", "SACK left edge", base.DEC),
  sack_right = ProtoField.uint32("tou.sack.right", "SACK right edge", base.DEC),
  sack_rel_left = ProtoField.uint32("tou.sack.rel_left", "SACK left edge (relative)", base.DEC),
  sack_rel_right = ProtoField.uint32("tou.sack.rel_right", "SACK right edge (relative)", base.DEC),
  ack_delay = ProtoField.uint32("tou.option.ack_delay", "ACK delay (µs)", base.DEC),
  probe = ProtoField.uint32("tou.option.probe.token", "Probe token", base.HEX),
  probe_echo = ProtoField.uint32("tou.option.probe_echo.token", "Probe echo token", base.HEX),
  connection_id = ProtoField.bytes("tou.option.connection_id", "Connection ID the sender wants on packets to it"),
  path_challenge = ProtoField.bytes("tou.option.path_challenge", "Path challenge"),
  path_response = ProtoField.bytes("tou.option.path_response", "Path response"),
  cid = ProtoField.bytes("tou.cid", "Destination connection ID"),
  padding_len = ProtoField.uint32("tou.padding_len", "Probe padding", base.DEC),
  data = ProtoField.bytes("tou.data", "Data"),
  trailer = ProtoField.uint32("tou.trailer", "Trailer", base.HEX),
  trailer_kind = ProtoField.uint8("tou.trailer.kind", "Trailer kind", base.DEC, trailer_kinds),
  trailer_status = ProtoField.uint8("tou.trailer.status", "Trailer status", base.DEC, trailer_states),
  extra = ProtoField.bytes("tou.extra", "Bytes after the payload"),
}
tou.fields = f

local e = {
  short = ProtoExpert.new("tou.expert.short", "Datagram shorter than its payload length", expert.group.MALFORMED, expert.severity.ERROR),
  bad_options = ProtoExpert.new("tou.expert.bad_options", "Malformed option", expert.group.MALFORMED, expert.severity.ERROR),
  bad_trailer = ProtoExpert.new("tou.expert.bad_trailer", "Trailer does not verify", expert.group.CHECKSUM, expert.severity.ERROR),
  reserved = ProtoExpert.new("tou.expert.reserved_flags", "Reserved flag set: receivers drop this packet", expert.group.PROTOCOL, expert.severity.WARN),
}
tou.experts = e

tou.prefs.ports = Pref.range("UDP ports", "5000", "UDP ports decoded as TOU (other ports: the heuristic)", 65535)

---------------------------------------------------------------------------------------------------------------
-- CRC32C (Castagnoli, reflected 0x82F63B78) and SipHash-2-4, for the trailer.

local crc_table = {}
for i = 0, 255 do
  local c = i
  for _ = 1, 8 do
    if bit.band(c, 1) ~= 0 then c = bit.bxor(bit.rshift(c, 1), 0x82F63B78) else c = bit.rshift(c, 1) end
  end
  crc_table[i] = c
end

local function crc32c(s)
  local crc = 0xFFFFFFFF
  for i = 1, #s do
    crc = bit.bxor(crc_table[bit.band(bit.bxor(crc, s:byte(i)), 0xFF)], bit.rshift(crc, 8))
  end
  return bit.bnot(crc)
end

local function le64(s, i) -- 8 bytes of s from index i, little-endian, as UInt64
  local b1, b2, b3, b4, b5, b6, b7, b8 = s:byte(i, i + 7)
  return UInt64.new(b1 + b2 * 256 + b3 * 65536 + b4 * 16777216, b5 + b6 * 256 + b7 * 65536 + b8 * 16777216)
end

local function sipround(v0, v1, v2, v3)
  v0 = v0 + v1; v1 = v1:rol(13):bxor(v0); v0 = v0:rol(32)
  v2 = v2 + v3; v3 = v3:rol(16):bxor(v2)
  v0 = v0 + v3; v3 = v3:rol(21):bxor(v0)
  v2 = v2 + v1; v1 = v1:rol(17):bxor(v2); v2 = v2:rol(32)
  return v0, v1, v2, v3
end

local function siphash24(k0, k1, s)
  local v0 = k0:bxor(UInt64.fromhex("736f6d6570736575"))
  local v1 = k1:bxor(UInt64.fromhex("646f72616e646f6d"))
  local v2 = k0:bxor(UInt64.fromhex("6c7967656e657261"))
  local v3 = k1:bxor(UInt64.fromhex("7465646279746573"))
  local whole = #s - #s % 8
  local last = s:sub(whole + 1) .. string.rep("\0", 7 - #s % 8) .. string.char(#s % 256)
  for i = 1, whole + 8, 8 do
    local m = i <= whole and le64(s, i) or le64(last, 1)
    v3 = v3:bxor(m)
    v0, v1, v2, v3 = sipround(v0, v1, v2, v3)
    v0, v1, v2, v3 = sipround(v0, v1, v2, v3)
    v0 = v0:bxor(m)
  end
  v2 = v2:bxor(UInt64.new(0xff))
  for _ = 1, 4 do v0, v1, v2, v3 = sipround(v0, v1, v2, v3) end
  return v0:bxor(v1):bxor(v2):bxor(v3)
end

-- The direction key for a label (0: client to server, 2: server to client) from the 16-byte secret.
local function direction_key(secret, label)
  local m0, m1 = le64(secret, 1), le64(secret, 9)
  return { siphash24(m0, m1, string.char(label)), siphash24(m0, m1, string.char(label + 1)) }
end

---------------------------------------------------------------------------------------------------------------
-- Conversations: stream index, initial sequence number per direction, direction keys. Results are kept per
-- frame, so that a second dissection (Wireshark's GUI) shows what the first pass computed.

local conversations, frames, next_stream

local function reset()
  conversations, frames, next_stream = {}, {}, 0
end
reset()
tou.init = reset

local function new_conversation(key)
  local conv = { stream = next_stream, base = {}, keys = {} }
  next_stream = next_stream + 1
  conversations[key] = conv
  return conv
end

local function mod32(x) return x % 4294967296 end

-- Sequence analysis of one packet in dissection order; returns what the frame shows.
local function analyse(pinfo, seq, ack, flags, secret)
  local a, b = tostring(pinfo.src) .. ":" .. pinfo.src_port, tostring(pinfo.dst) .. ":" .. pinfo.dst_port
  local key = a < b and (a .. "|" .. b) or (b .. "|" .. a)
  local conv = conversations[key]
  local syn_only = bit.band(flags, FLAG_SYN + FLAG_ACK) == FLAG_SYN
  -- A SYN with another ISN than the one seen starts a new connection between the same addresses.
  if not conv or (syn_only and conv.base[a] ~= nil and conv.base[a] ~= seq) then conv = new_conversation(key) end
  if bit.band(flags, FLAG_SYN) ~= 0 or conv.base[a] == nil then conv.base[a] = seq end
  if secret then
    -- The SYN+ACK's sender is the server: labels 0/1 tag client to server, 2/3 server to client.
    conv.keys[b], conv.keys[a] = direction_key(secret, 0), direction_key(secret, 2)
  end
  local result = { stream = conv.stream, rel_seq = mod32(seq - conv.base[a]), key = conv.keys[a], base_peer = conv.base[b] }
  if conv.base[b] then result.rel_ack = mod32(ack - conv.base[b]) end
  return result
end

-- The 16-byte secret of a SYN+ACK's INTEGRITY option, or nil.
local function find_secret(buf, plen)
  if plen < 4 or buf(HEADER, 3):string() ~= "TOU" then return nil end
  local offset, stop = HEADER + 4, HEADER + plen
  while offset + 2 <= stop do
    local type, len = buf(offset, 1):uint(), buf(offset + 1, 1):uint()
    if offset + 2 + len > stop then return nil end
    if type == 6 and len == 16 then return buf(offset + 2, 16):raw() end
    offset = offset + 2 + len
  end
  return nil
end

---------------------------------------------------------------------------------------------------------------
-- Payload parts.

-- TLVs from offset to stop; value decoders by type. Returns false when a TLV runs past stop.
local function dissect_tlvs(buf, pinfo, tree, offset, stop, state)
  while offset + 2 <= stop do
    local type, len = buf(offset, 1):uint(), buf(offset + 1, 1):uint()
    local item = tree:add(f.option_type, buf(offset, 1))
    if offset + 2 + len > stop then
      item:add_proto_expert_info(e.bad_options, "Option runs past the end of its block")
      return false
    end
    item:set_len(2 + len)
    item:add(f.option_len, buf(offset + 1, 1))
    local v = len > 0 and buf(offset + 2, len) or nil
    if type == 1 and len == 1 then
      item:add(f.wscale, v)
      state.info[#state.info + 1] = "WS=" .. v:uint()
    elseif type == 6 and len == 16 then
      item:add(f.secret, v)
    elseif type == 5 and len % 8 == 0 and state.block then
      for i = 0, len - 8, 8 do
        local left, right = v(i, 4):uint(), v(i + 4, 4):uint()
        item:add(f.sack_left, v(i, 4))
        item:add(f.sack_right, v(i + 4, 4))
        if state.base_peer then
          item:add(f.sack_rel_left, v(i, 4), mod32(left - state.base_peer)):set_generated()
          item:add(f.sack_rel_right, v(i + 4, 4), mod32(right - state.base_peer)):set_generated()
        end
      end
    elseif type == 7 and len == 4 and state.block then
      item:add(f.ack_delay, v)
    elseif type == 9 and len == 4 and state.block then
      item:add(f.probe, v)
      state.probe = true
    elseif type == 10 and len == 4 and state.block then
      item:add(f.probe_echo, v)
    elseif type == 11 and len == 8 and not state.block then
      item:add(f.connection_id, v)
    elseif type == 12 and len == 8 and state.block then
      item:add(f.path_challenge, v)
    elseif type == 13 and len == 8 and state.block then
      item:add(f.path_response, v)
    elseif v then
      item:add(f.value, v)
    end
    if type ~= 1 then state.info[#state.info + 1] = option_names[type] or ("OPT" .. type) end
    offset = offset + 2 + len
  end
  return true
end

-- The trailer after header and payload; its kind depends on the SYN flag, and on a connection ID before the tag
-- (with_id), which the tag covers: CRC32C over header, payload and ID, SipHash over header and ID.
local function dissect_trailer(buf, tree, offset, flags, key, with_id)
  local keyed = buf:raw(0, HEADER)
  if with_id then
    tree:add(f.cid, buf(offset, 8))
    keyed = keyed .. buf:raw(offset, 8)
    offset = offset + 8
  end
  local tr = buf(offset, TRAILER)
  local item = tree:add(f.trailer, tr)
  local packet = buf:raw(0, offset)
  local status, expected = 0, nil
  if bit.band(flags, FLAG_SYN) ~= 0 then
    item:add(f.trailer_kind, tr, 1):set_generated()
    expected = crc32c(packet)
  else
    item:add(f.trailer_kind, tr, with_id and 3 or 2):set_generated()
    if key then
      local mask = siphash24(key[1], key[2], keyed):lower()
      expected = bit.bxor(crc32c(packet), mask)
    end
  end
  if expected then status = (expected == tr:uint()) and 1 or 2 end
  local st = item:add(f.trailer_status, tr, status)
  st:set_generated()
  if status == 2 then st:add_proto_expert_info(e.bad_trailer, string.format("Trailer does not verify: expected 0x%08x", expected)) end
end

---------------------------------------------------------------------------------------------------------------

local function flag_text(flags)
  local names = {}
  for _, p in ipairs({ { FLAG_SYN, "SYN" }, { FLAG_ACK, "ACK" }, { FLAG_RST, "RST" }, { FLAG_FIN, "FIN" }, { FLAG_OPT, "OPT" }, { FLAG_PING, "PING" } }) do
    if bit.band(flags, p[1]) ~= 0 then names[#names + 1] = p[2] end
  end
  return #names > 0 and ("[" .. table.concat(names, ", ") .. "] ") or ""
end

-- The payload: an offer on SYNs, an option block with the OPT flag, data otherwise. Returns the data length.
local function dissect_payload(buf, pinfo, tree, flags, plen, state)
  if plen == 0 then return 0 end
  local offset = HEADER
  if bit.band(flags, FLAG_SYN) ~= 0 and plen >= 4 and buf(offset, 3):string() == "TOU" and buf(offset + 3, 1):uint() >= 1 then
    local offer = tree:add(tou, buf(offset, plen), "Extension offer")
    offer:add(f.magic, buf(offset, 3))
    offer:add(f.version, buf(offset + 3, 1))
    state.info[#state.info + 1] = "TOUv" .. buf(offset + 3, 1):uint()
    dissect_tlvs(buf, pinfo, offer, offset + 4, offset + plen, state)
    return 0
  end
  if bit.band(flags, FLAG_OPT) ~= 0 then
    local blen = buf(offset, 1):uint()
    local block = tree:add(tou, buf(offset, math.min(1 + blen, plen)), "Option block")
    block:add(f.options_len, buf(offset, 1))
    if 1 + blen > plen then
      block:add_proto_expert_info(e.bad_options, "Option block longer than the payload")
      return 0
    end
    state.block = true
    dissect_tlvs(buf, pinfo, block, offset + 1, offset + 1 + blen, state)
    offset = offset + 1 + blen
    plen = plen - 1 - blen
    if state.probe then
      tree:add(f.padding_len, buf(offset, plen > 0 and plen or 0), plen)
      return 0
    end
  end
  if plen > 0 then tree:add(f.data, buf(offset, plen)) end
  return plen
end

function tou.dissector(buf, pinfo, root)
  local length = buf:len()
  if length < HEADER then return 0 end
  pinfo.cols.protocol = "TOU"
  local tree = root:add(tou, buf())
  local seq, ack, flags, plen = buf(4, 4):uint(), buf(8, 4):uint(), buf(12, 1):uint(), buf(15, 2):uint()
  tree:add(f.srcport, buf(0, 2))
  tree:add(f.dstport, buf(2, 2))
  tree:add(f.seq, buf(4, 4))
  tree:add(f.ack, buf(8, 4))
  local fl = tree:add(f.flags, buf(12, 1))
  for _, field in ipairs({ f.fin, f.rst, f.ackf, f.syn, f.opt, f.ping }) do fl:add(field, buf(12, 1)) end
  local reserved = fl:add(f.reserved, buf(12, 1))
  if bit.band(flags, 0xC0) ~= 0 then reserved:add_proto_expert_info(e.reserved) end
  tree:add(f.window, buf(13, 2))
  local plen_item = tree:add(f.payload_len, buf(15, 2))
  tree:add(f.mss, buf(17, 4))
  if plen > length - HEADER then
    plen_item:add_proto_expert_info(e.short)
    plen = length - HEADER
  end

  -- The secret comes in the SYN+ACK's offer; read it before the analysis, which derives the keys from it.
  local state = { info = {} }
  local frame = frames[pinfo.number]
  if not pinfo.visited or not frame then
    local secret = bit.band(flags, FLAG_SYN + FLAG_ACK) == FLAG_SYN + FLAG_ACK and find_secret(buf, plen) or nil
    frame = analyse(pinfo, seq, ack, flags, secret)
    frames[pinfo.number] = frame
  end
  state.base_peer = frame.base_peer

  tree:add(f.stream, frame.stream):set_generated()
  tree:add(f.rel_seq, buf(4, 4), frame.rel_seq):set_generated()
  if frame.rel_ack then tree:add(f.rel_ack, buf(8, 4), frame.rel_ack):set_generated() end
  local data_len = dissect_payload(buf, pinfo, tree, flags, plen, state)
  tree:add(f.len, data_len):set_generated()

  local extra = length - HEADER - plen
  if extra == TRAILER or (extra == ID_TRAILER and bit.band(flags, FLAG_SYN) == 0) then
    dissect_trailer(buf, tree, HEADER + plen, flags, frame.key, extra == ID_TRAILER)
  elseif extra > 0 then
    tree:add(f.extra, buf(HEADER + plen, extra))
  end

  local info = string.format("%d → %d %sSeq=%d", buf(0, 2):uint(), buf(2, 2):uint(), flag_text(flags), frame.rel_seq)
  if frame.rel_ack then info = info .. " Ack=" .. frame.rel_ack end
  info = info .. string.format(" Win=%d Len=%d MSS=%d", buf(13, 2):uint(), data_len, buf(17, 4):uint())
  if #state.info > 0 then info = info .. " " .. table.concat(state.info, " ") end
  pinfo.cols.info = info
  return length
end

-- Heuristic: a well-formed header whose ports are the datagram's UDP ports, no reserved flags, and nothing
-- after the payload but an optional trailer.
local function heuristic(buf, pinfo, root)
  local length = buf:len()
  if length < HEADER then return false end
  local plen, extra = buf(15, 2):uint(), length - HEADER - buf(15, 2):uint()
  if buf(0, 2):uint() ~= pinfo.src_port or buf(2, 2):uint() ~= pinfo.dst_port then return false end
  if bit.band(buf(12, 1):uint(), 0xC0) ~= 0 or (extra ~= 0 and extra ~= TRAILER and extra ~= ID_TRAILER) or buf(17, 4):uint() > 65535 then return false end
  tou.dissector(buf, pinfo, root)
  return true
end
tou:register_heuristic("udp", heuristic)

local registered = nil
local function register_ports()
  local udp = DissectorTable.get("udp.port")
  if registered then udp:remove(registered, tou) end
  registered = tou.prefs.ports
  udp:add(registered, tou)
end

function tou.prefs_changed() register_ports() end
register_ports()
