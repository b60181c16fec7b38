// sigmoid and softplus of two float64 lanes at a time, bit-identical to elementwise.ts' scalar
// forms on AssemblyScript's Math.exp (musl's table-driven exp, util/math.ts exp_lut: 2^(k/128)
// from a table, then a degree-5 polynomial) and Math.log1p (musl's log1p): the same IEEE
// operations in the same order, lane by lane (no fused multiply-add, no reassociation; log1p's
// two argument reductions computed for both lanes and selected), so unaryF32's sigmoid and
// softplus and the fused BCE with logits keep their bits while doing two lanes per instruction
// stream. Lanes outside exp's main range (|x| < 2^-54, |x| >= 512, NaN) go to the scalar path,
// which handles the special cases. The table is musl's __exp_data.tab (EXP_TABLE_BITS = 7),
// copied because the standard library does not export it.

// @ts-ignore: decorator
@lazy @inline const EXP_TAB = memory.data<u64>([
  0x0000000000000000, 0x3FF0000000000000, 0x3C9B3B4F1A88BF6E, 0x3FEFF63DA9FB3335,
  0xBC7160139CD8DC5D, 0x3FEFEC9A3E778061, 0xBC905E7A108766D1, 0x3FEFE315E86E7F85,
  0x3C8CD2523567F613, 0x3FEFD9B0D3158574, 0xBC8BCE8023F98EFA, 0x3FEFD06B29DDF6DE,
  0x3C60F74E61E6C861, 0x3FEFC74518759BC8, 0x3C90A3E45B33D399, 0x3FEFBE3ECAC6F383,
  0x3C979AA65D837B6D, 0x3FEFB5586CF9890F, 0x3C8EB51A92FDEFFC, 0x3FEFAC922B7247F7,
  0x3C3EBE3D702F9CD1, 0x3FEFA3EC32D3D1A2, 0xBC6A033489906E0B, 0x3FEF9B66AFFED31B,
  0xBC9556522A2FBD0E, 0x3FEF9301D0125B51, 0xBC5080EF8C4EEA55, 0x3FEF8ABDC06C31CC,
  0xBC91C923B9D5F416, 0x3FEF829AAEA92DE0, 0x3C80D3E3E95C55AF, 0x3FEF7A98C8A58E51,
  0xBC801B15EAA59348, 0x3FEF72B83C7D517B, 0xBC8F1FF055DE323D, 0x3FEF6AF9388C8DEA,
  0x3C8B898C3F1353BF, 0x3FEF635BEB6FCB75, 0xBC96D99C7611EB26, 0x3FEF5BE084045CD4,
  0x3C9AECF73E3A2F60, 0x3FEF54873168B9AA, 0xBC8FE782CB86389D, 0x3FEF4D5022FCD91D,
  0x3C8A6F4144A6C38D, 0x3FEF463B88628CD6, 0x3C807A05B0E4047D, 0x3FEF3F49917DDC96,
  0x3C968EFDE3A8A894, 0x3FEF387A6E756238, 0x3C875E18F274487D, 0x3FEF31CE4FB2A63F,
  0x3C80472B981FE7F2, 0x3FEF2B4565E27CDD, 0xBC96B87B3F71085E, 0x3FEF24DFE1F56381,
  0x3C82F7E16D09AB31, 0x3FEF1E9DF51FDEE1, 0xBC3D219B1A6FBFFA, 0x3FEF187FD0DAD990,
  0x3C8B3782720C0AB4, 0x3FEF1285A6E4030B, 0x3C6E149289CECB8F, 0x3FEF0CAFA93E2F56,
  0x3C834D754DB0ABB6, 0x3FEF06FE0A31B715, 0x3C864201E2AC744C, 0x3FEF0170FC4CD831,
  0x3C8FDD395DD3F84A, 0x3FEEFC08B26416FF, 0xBC86A3803B8E5B04, 0x3FEEF6C55F929FF1,
  0xBC924AEDCC4B5068, 0x3FEEF1A7373AA9CB, 0xBC9907F81B512D8E, 0x3FEEECAE6D05D866,
  0xBC71D1E83E9436D2, 0x3FEEE7DB34E59FF7, 0xBC991919B3CE1B15, 0x3FEEE32DC313A8E5,
  0x3C859F48A72A4C6D, 0x3FEEDEA64C123422, 0xBC9312607A28698A, 0x3FEEDA4504AC801C,
  0xBC58A78F4817895B, 0x3FEED60A21F72E2A, 0xBC7C2C9B67499A1B, 0x3FEED1F5D950A897,
  0x3C4363ED60C2AC11, 0x3FEECE086061892D, 0x3C9666093B0664EF, 0x3FEECA41ED1D0057,
  0x3C6ECCE1DAA10379, 0x3FEEC6A2B5C13CD0, 0x3C93FF8E3F0F1230, 0x3FEEC32AF0D7D3DE,
  0x3C7690CEBB7AAFB0, 0x3FEEBFDAD5362A27, 0x3C931DBDEB54E077, 0x3FEEBCB299FDDD0D,
  0xBC8F94340071A38E, 0x3FEEB9B2769D2CA7, 0xBC87DECCDC93A349, 0x3FEEB6DAA2CF6642,
  0xBC78DEC6BD0F385F, 0x3FEEB42B569D4F82, 0xBC861246EC7B5CF6, 0x3FEEB1A4CA5D920F,
  0x3C93350518FDD78E, 0x3FEEAF4736B527DA, 0x3C7B98B72F8A9B05, 0x3FEEAD12D497C7FD,
  0x3C9063E1E21C5409, 0x3FEEAB07DD485429, 0x3C34C7855019C6EA, 0x3FEEA9268A5946B7,
  0x3C9432E62B64C035, 0x3FEEA76F15AD2148, 0xBC8CE44A6199769F, 0x3FEEA5E1B976DC09,
  0xBC8C33C53BEF4DA8, 0x3FEEA47EB03A5585, 0xBC845378892BE9AE, 0x3FEEA34634CCC320,
  0xBC93CEDD78565858, 0x3FEEA23882552225, 0x3C5710AA807E1964, 0x3FEEA155D44CA973,
  0xBC93B3EFBF5E2228, 0x3FEEA09E667F3BCD, 0xBC6A12AD8734B982, 0x3FEEA012750BDABF,
  0xBC6367EFB86DA9EE, 0x3FEE9FB23C651A2F, 0xBC80DC3D54E08851, 0x3FEE9F7DF9519484,
  0xBC781F647E5A3ECF, 0x3FEE9F75E8EC5F74, 0xBC86EE4AC08B7DB0, 0x3FEE9F9A48A58174,
  0xBC8619321E55E68A, 0x3FEE9FEB564267C9, 0x3C909CCB5E09D4D3, 0x3FEEA0694FDE5D3F,
  0xBC7B32DCB94DA51D, 0x3FEEA11473EB0187, 0x3C94ECFD5467C06B, 0x3FEEA1ED0130C132,
  0x3C65EBE1ABD66C55, 0x3FEEA2F336CF4E62, 0xBC88A1C52FB3CF42, 0x3FEEA427543E1A12,
  0xBC9369B6F13B3734, 0x3FEEA589994CCE13, 0xBC805E843A19FF1E, 0x3FEEA71A4623C7AD,
  0xBC94D450D872576E, 0x3FEEA8D99B4492ED, 0x3C90AD675B0E8A00, 0x3FEEAAC7D98A6699,
  0x3C8DB72FC1F0EAB4, 0x3FEEACE5422AA0DB, 0xBC65B6609CC5E7FF, 0x3FEEAF3216B5448C,
  0x3C7BF68359F35F44, 0x3FEEB1AE99157736, 0xBC93091FA71E3D83, 0x3FEEB45B0B91FFC6,
  0xBC5DA9B88B6C1E29, 0x3FEEB737B0CDC5E5, 0xBC6C23F97C90B959, 0x3FEEBA44CBC8520F,
  0xBC92434322F4F9AA, 0x3FEEBD829FDE4E50, 0xBC85CA6CD7668E4B, 0x3FEEC0F170CA07BA,
  0x3C71AFFC2B91CE27, 0x3FEEC49182A3F090, 0x3C6DD235E10A73BB, 0x3FEEC86319E32323,
  0xBC87C50422622263, 0x3FEECC667B5DE565, 0x3C8B1C86E3E231D5, 0x3FEED09BEC4A2D33,
  0xBC91BBD1D3BCBB15, 0x3FEED503B23E255D, 0x3C90CC319CEE31D2, 0x3FEED99E1330B358,
  0x3C8469846E735AB3, 0x3FEEDE6B5579FDBF, 0xBC82DFCD978E9DB4, 0x3FEEE36BBFD3F37A,
  0x3C8C1A7792CB3387, 0x3FEEE89F995AD3AD, 0xBC907B8F4AD1D9FA, 0x3FEEEE07298DB666,
  0xBC55C3D956DCAEBA, 0x3FEEF3A2B84F15FB, 0xBC90A40E3DA6F640, 0x3FEEF9728DE5593A,
  0xBC68D6F438AD9334, 0x3FEEFF76F2FB5E47, 0xBC91EEE26B588A35, 0x3FEF05B030A1064A,
  0x3C74FFD70A5FDDCD, 0x3FEF0C1E904BC1D2, 0xBC91BDFBFA9298AC, 0x3FEF12C25BD71E09,
  0x3C736EAE30AF0CB3, 0x3FEF199BDD85529C, 0x3C8EE3325C9FFD94, 0x3FEF20AB5FFFD07A,
  0x3C84E08FD10959AC, 0x3FEF27F12E57D14B, 0x3C63CDAF384E1A67, 0x3FEF2F6D9406E7B5,
  0x3C676B2C6C921968, 0x3FEF3720DCEF9069, 0xBC808A1883CCB5D2, 0x3FEF3F0B555DC3FA,
  0xBC8FAD5D3FFFFA6F, 0x3FEF472D4A07897C, 0xBC900DAE3875A949, 0x3FEF4F87080D89F2,
  0x3C74A385A63D07A7, 0x3FEF5818DCFBA487, 0xBC82919E2040220F, 0x3FEF60E316C98398,
  0x3C8E5A50D5C192AC, 0x3FEF69E603DB3285, 0x3C843A59AC016B4B, 0x3FEF7321F301B460,
  0xBC82D52107B43E1F, 0x3FEF7C97337B9B5F, 0xBC892AB93B470DC9, 0x3FEF864614F5A129,
  0x3C74B604603A88D3, 0x3FEF902EE78B3FF6, 0x3C83C5EC519D7271, 0x3FEF9A51FBC74C83,
  0xBC8FF7128FD391F0, 0x3FEFA4AFA2A490DA, 0xBC8DAE98E223747D, 0x3FEFAF482D8E67F1,
  0x3C8EC3BC41AA2008, 0x3FEFBA1BEE615A27, 0x3C842B94C3A9EB32, 0x3FEFC52B376BBA97,
  0x3C8A64A931D185EE, 0x3FEFD0765B6E4540, 0xBC8E37BAE43BE3ED, 0x3FEFDBFDAD9CBE14,
  0x3C77893B4D91CD9D, 0x3FEFE7C1819E90D8, 0x3C5305C14160CC89, 0x3FEFF3C22B8F71F1,
]);

/** The sigmoid of scalar x as elementwise.ts has always computed it (f64, AssemblyScript's Math.exp). */
@inline export function sigmoid(x: f64): f64 {
  if (x >= 0) return 1 / (1 + Math.exp(-x));
  const e = Math.exp(x);
  return e / (1 + e);
}

/** softplus(x) = max(x, 0) + log1p(exp(-|x|)), as elementwise.ts has always computed it. */
@inline export function softplus(x: f64): f64 {
  return Math.max(x, 0) + Math.log1p(Math.exp(-Math.abs(x)));
}

/** exp_lut's main path on two lanes whose |x| lies in [2^-54, 512). */
@inline function exp2Main(x: v128): v128 {
  const InvLn2N = f64x2.splat(reinterpret<f64>(0x3FF71547652B82FE) * 128);
  const NegLn2hiN = f64x2.splat(reinterpret<f64>(0xBF762E42FEFA0000));
  const NegLn2loN = f64x2.splat(reinterpret<f64>(0xBD0CF79ABC9E3B3A));
  const shift = f64x2.splat(reinterpret<f64>(0x4338000000000000));
  const C2 = f64x2.splat(reinterpret<f64>(0x3FDFFFFFFFFFFDBD));
  const C3 = f64x2.splat(reinterpret<f64>(0x3FC555555555543C));
  const C4 = f64x2.splat(reinterpret<f64>(0x3FA55555CF172B91));
  const C5 = f64x2.splat(reinterpret<f64>(0x3F81111167A4D017));
  let kd = f64x2.add(f64x2.mul(InvLn2N, x), shift);
  const ki = kd; // its bits
  kd = f64x2.sub(kd, shift);
  const r = f64x2.add(f64x2.add(x, f64x2.mul(kd, NegLn2hiN)), f64x2.mul(kd, NegLn2loN));
  // the table entries of each lane: tail T[idx] and the scale's bits T[idx + 1], idx = 2 * (ki % 128)
  const i0 = (<usize>i64x2.extract_lane(ki, 0) & 127) << 4, i1 = (<usize>i64x2.extract_lane(ki, 1) & 127) << 4;
  const tail = v128.load64_lane(EXP_TAB + i1, v128.load64_zero(EXP_TAB + i0), 1);
  const sbits = i64x2.add(v128.load64_lane(EXP_TAB + i1 + 8, v128.load64_zero(EXP_TAB + i0 + 8), 1), i64x2.shl(ki, 45));
  const r2 = f64x2.mul(r, r);
  const tmp = f64x2.add(
    f64x2.add(f64x2.add(tail, r), f64x2.mul(r2, f64x2.add(C2, f64x2.mul(r, C3)))),
    f64x2.mul(f64x2.mul(r2, r2), f64x2.add(C4, f64x2.mul(r, C5))),
  );
  return f64x2.add(sbits, f64x2.mul(sbits, tmp));
}

/** Whether both lanes lie in exp's vector range: 2^-54 <= |x| < 512 (false for NaN). */
@inline function inRange2(a: v128): bool {
  return i64x2.all_true(v128.and(f64x2.ge(a, f64x2.splat(reinterpret<f64>(0x3C90000000000000))), f64x2.lt(a, f64x2.splat(512))));
}

/** sigmoid of two f64 lanes in range (|x| = a): x >= 0: 1 / (1 + exp(-x)); x < 0: e / (1 + e) with e = exp(x); both exps are exp(-|x|). */
@inline function sigmoidMain(x: v128, a: v128): v128 {
  const e = exp2Main(f64x2.neg(a));
  const one = f64x2.splat(1);
  return f64x2.div(v128.bitselect(one, e, f64x2.ge(x, f64x2.splat(0))), f64x2.add(one, e));
}

/** sigmoid of two f64 lanes, each bit-identical to sigmoid(). */
@inline export function sigmoid2(x: v128): v128 {
  const a = f64x2.abs(x);
  if (inRange2(a)) return sigmoidMain(x, a);
  return f64x2.replace_lane(f64x2.splat(sigmoid(f64x2.extract_lane(x, 0))), 1, sigmoid(f64x2.extract_lane(x, 1)));
}

/**
 * Math.log1p of two lanes e in (0, 1] (exps of -|x|): musl's log1p, whose two argument
 * reductions (e below sqrt(2) - 1: f = e, c = 0, k = 0; else from 1 + e: k = 1 on this range)
 * are computed for both lanes and selected before the shared polynomial; lanes under 2^-53 are
 * log1p's own answer, e itself.
 */
@inline function log1p2(x: v128): v128 {
  const ln2_hi = f64x2.splat(reinterpret<f64>(0x3FE62E42FEE00000));
  const ln2_lo = f64x2.splat(reinterpret<f64>(0x3DEA39EF35793C76));
  const Lg1 = f64x2.splat(reinterpret<f64>(0x3FE5555555555593));
  const Lg2 = f64x2.splat(reinterpret<f64>(0x3FD999999997FA04));
  const Lg3 = f64x2.splat(reinterpret<f64>(0x3FD2492494229359));
  const Lg4 = f64x2.splat(reinterpret<f64>(0x3FCC71C51D8E78AF));
  const Lg5 = f64x2.splat(reinterpret<f64>(0x3FC7466496CB03DE));
  const Lg6 = f64x2.splat(reinterpret<f64>(0x3FC39A09D078C69F));
  const Lg7 = f64x2.splat(reinterpret<f64>(0x3FC2F112DF3E5244));
  const one = f64x2.splat(1);
  // hx < 0x3FDA827A (x >= 0): f = x, c = 0, k = 0 (both lanes, for most logits: |l| > 0.8814)
  const small = f64x2.lt(x, f64x2.splat(reinterpret<f64>(0x3FDA827A00000000)));
  let f = x, c = f64x2.splat(0), dk = f64x2.splat(0);
  if (!i64x2.all_true(small)) {
    // else: u = 1 + x, k = (hi(u) + 0x3FF00000 - 0x3FE6A09E) >> 20 - 0x3FF (0 or 1 here), c = (x - (u - 1)) / u, f from u's mantissa
    const uf = f64x2.add(one, x);
    const hu = i64x2.add(i64x2.shr_u(uf, 32), i64x2.splat(0x3FF00000 - 0x3FE6A09E));
    const k64 = i64x2.sub(i64x2.shr_u(hu, 20), i64x2.splat(0x3FF));
    const kb = f64x2.convert_low_i32x4_s(v128.shuffle<i32>(k64, k64, 0, 2, 0, 2));
    const cb = f64x2.div(f64x2.sub(x, f64x2.sub(uf, one)), uf);
    const ub = v128.or(i64x2.shl(i64x2.add(v128.and(hu, i64x2.splat(0x000FFFFF)), i64x2.splat(0x3FE6A09E)), 32), v128.and(uf, i64x2.splat(0xFFFFFFFF)));
    f = v128.bitselect(x, f64x2.sub(ub, one), small);
    c = v128.bitselect(c, cb, small);
    dk = v128.bitselect(dk, kb, small);
  }
  const hfsq = f64x2.mul(f64x2.mul(f64x2.splat(0.5), f), f);
  const s = f64x2.div(f, f64x2.add(f64x2.splat(2), f));
  const z = f64x2.mul(s, s);
  const w = f64x2.mul(z, z);
  const t1 = f64x2.mul(w, f64x2.add(Lg2, f64x2.mul(w, f64x2.add(Lg4, f64x2.mul(w, Lg6)))));
  const t2 = f64x2.mul(z, f64x2.add(Lg1, f64x2.mul(w, f64x2.add(Lg3, f64x2.mul(w, f64x2.add(Lg5, f64x2.mul(w, Lg7)))))));
  const r = f64x2.add(t2, t1);
  // s * (hfsq + r) + (dk * ln2_lo + c) - hfsq + f + dk * ln2_hi, left to right
  const y = f64x2.add(
    f64x2.add(f64x2.sub(f64x2.add(f64x2.mul(s, f64x2.add(hfsq, r)), f64x2.add(f64x2.mul(dk, ln2_lo), c)), hfsq), f),
    f64x2.mul(dk, ln2_hi),
  );
  return v128.bitselect(x, y, f64x2.lt(x, f64x2.splat(reinterpret<f64>(0x3CA0000000000000))));
}

/** softplus of two f64 lanes, each bit-identical to softplus(). */
@inline export function softplus2(x: v128): v128 {
  const a = f64x2.abs(x);
  if (inRange2(a)) return f64x2.add(f64x2.max(x, f64x2.splat(0)), log1p2(exp2Main(f64x2.neg(a))));
  return f64x2.replace_lane(f64x2.splat(softplus(f64x2.extract_lane(x, 0))), 1, softplus(f64x2.extract_lane(x, 1)));
}
