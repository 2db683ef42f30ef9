// Ed25519 through OpenSSL (Wycheproof vectors), C2SP signed notes, verifier keys and
// checkpoints, including the Go sumdb/note known answer.
#include "audit/note.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <nlohmann/json.hpp>

#include "audit/codec.h"
#include "residency/audit.h"
#include "test_util.h"
#include "testing/shared_testdata.h"

namespace residency::audit {
namespace {

using testing::ReadAll;
using testing::TempDir;

TEST(Ed25519, WycheproofVectors) {
  std::string path = testing::SharedTestdata() + "/wycheproof/ed25519_test.json";
  std::string text = ReadAll(path);
  if (text.empty()) RESIDENCY_SHARED_TESTDATA_ABSENT("wycheproof vectors not found at " << path);
  auto j = nlohmann::json::parse(text);
  int valid = 0, invalid = 0;
  for (const auto& g : j["testGroups"]) {
    auto pk = HexDecode(g["publicKey"]["pk"].get<std::string>());
    ASSERT_TRUE(pk.has_value());
    auto v = NoteVerifier::FromRawEd25519("wycheproof", *pk);
    for (const auto& t : g["tests"]) {
      auto msg = HexDecode(t["msg"].get<std::string>());
      auto sig = HexDecode(t["sig"].get<std::string>());
      ASSERT_TRUE(msg && sig) << t["tcId"];
      bool want = t["result"].get<std::string>() == "valid";
      bool got = v.ok() && (*v)->Verify(*msg, *sig);
      EXPECT_EQ(got, want) << "tcId " << t["tcId"] << ": " << t["comment"];
      (want ? valid : invalid)++;
    }
  }
  EXPECT_GT(valid, 10);
  EXPECT_GT(invalid, 50);
}

constexpr char kNeumannVkey[] =
    "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
constexpr char kNeumannText[] =
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n";
constexpr char kNeumannNote[] =
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
    "\n"
    "\xE2\x80\x94 PeterNeumann "
    "x08go/ZJkuBS9UG/"
    "SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";

TEST(SignedNote, GoKnownAnswerVerifies) {
  auto v = NoteVerifier::FromVkey(kNeumannVkey);
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ((*v)->name(), "PeterNeumann");
  EXPECT_EQ((*v)->key_hash(), 0xc74f20a3u);
  auto note = ParseNote(kNeumannNote);
  ASSERT_TRUE(note.ok()) << note.status();
  EXPECT_EQ(note->text, kNeumannText);
  EXPECT_EQ(VerifyNote(*note, {v->get()}), NoteVerdict::kValid);
  // Tampered text fails.
  Note bad = *note;
  bad.text[3] ^= 1;
  EXPECT_EQ(VerifyNote(bad, {v->get()}), NoteVerdict::kBadSignature);
}

TEST(SignedNote, GoKnownAnswerSigns) {
  // The Go example's private key: PRIVATE+KEY+PeterNeumann+c74f20a3+<base64(0x01 || seed)>.
  auto typed = Base64Decode("AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz");
  ASSERT_TRUE(typed && typed->size() == 33);
  auto s = NoteSigner::FromSeed(typed->substr(1), "PeterNeumann");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ((*s)->vkey(), kNeumannVkey);
  auto note = (*s)->Sign(kNeumannText);
  ASSERT_TRUE(note.ok());
  EXPECT_EQ(*note, kNeumannNote);
}

TEST(SignedNote, WrongKeyAndUnknownKey) {
  auto a = NoteSigner::Generate("a.example/log");
  auto b = NoteSigner::Generate("a.example/log");  // same name, other key
  ASSERT_TRUE(a.ok() && b.ok());
  auto va = NoteVerifier::FromVkey((*a)->vkey());
  auto vb = NoteVerifier::FromVkey((*b)->vkey());
  ASSERT_TRUE(va.ok() && vb.ok());
  auto note = ParseNote(*(*a)->Sign("hello\n"));
  ASSERT_TRUE(note.ok());
  EXPECT_EQ(VerifyNote(*note, {va->get()}), NoteVerdict::kValid);
  EXPECT_EQ(VerifyNote(*note, {vb->get()}), NoteVerdict::kUnknownKey);
  EXPECT_EQ(VerifyNote(*note, {vb->get(), va->get()}), NoteVerdict::kValid);
  note->signatures[0].signature[10] ^= 4;
  EXPECT_EQ(VerifyNote(*note, {va->get()}), NoteVerdict::kBadSignature);
}

TEST(SignedNote, ParseRejectsMalformed) {
  std::string good = kNeumannNote;
  EXPECT_TRUE(ParseNote(good).ok());
  const std::vector<std::string> bad = {
      "",
      "text\n",                                            // no signatures
      "text\n\n",                                          // blank line, no signature
      good.substr(0, good.size() - 1),                     // no final newline
      "text\n\n-- PeterNeumann AAAA\n",                    // not an em dash
      "text\n\n\xE2\x80\x94 PeterNeumann\n",               // no signature
      "text\n\n\xE2\x80\x94 Peter+Neumann AAAAAAA=\n",     // '+' in the name
      "text\n\n\xE2\x80\x94 PeterNeumann AAAA\n",          // shorter than a key hash + 1
      "te\txt\n\n\xE2\x80\x94 PeterNeumann AAAAAAA=\n",    // control character
      "te\xffxt\n\n\xE2\x80\x94 PeterNeumann AAAAAAA=\n",  // not UTF-8
      "\n\n\xE2\x80\x94 PeterNeumann AAAAAAA=\n",          // empty text
  };
  for (const auto& b : bad) EXPECT_FALSE(ParseNote(b).ok()) << b;
}

TEST(VerifierKey, RejectsMalformed) {
  std::string good = kNeumannVkey;
  EXPECT_TRUE(NoteVerifier::FromVkey(good).ok());
  for (std::string b :
       {std::string("PeterNeumann"), std::string("PeterNeumann+c74f20a3"),
        std::string("PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"),
        std::string("PeterNeumann+C74F20A3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"),
        std::string("PeterNeumann+c74f20a3+Apc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"),
        std::string("Peter Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW")}) {
    EXPECT_FALSE(NoteVerifier::FromVkey(b).ok()) << b;
  }
}

TEST(Checkpoint, FormatAndParse) {
  Hash root{};
  root[0] = 7;
  std::string text = FormatCheckpointText("gw1/log-1", 1234, root);
  auto cp = ParseCheckpointText(text);
  ASSERT_TRUE(cp.ok()) << cp.status();
  EXPECT_EQ(cp->origin, "gw1/log-1");
  EXPECT_EQ(cp->size, 1234u);
  EXPECT_EQ(cp->root, root);
  EXPECT_FALSE(ParseCheckpointText("o\n01\n" + Base64Encode(AsView(root)) + "\n").ok());
  EXPECT_FALSE(ParseCheckpointText("o\n-1\n" + Base64Encode(AsView(root)) + "\n").ok());
  EXPECT_FALSE(ParseCheckpointText("o\n1\nAAAA\n").ok());
  EXPECT_FALSE(ParseCheckpointText("\n1\n" + Base64Encode(AsView(root)) + "\n").ok());
  EXPECT_FALSE(ParseCheckpointText("o\n1\n" + Base64Encode(AsView(root))).ok());
}

TEST(Keygen, WritesPkcs8PemAndVkeyThatRoundTrip) {
  TempDir dir;
  auto vkey = GenerateAuditKey("gw1", dir.path());
  ASSERT_TRUE(vkey.ok()) << vkey.status();
  struct stat st;
  ASSERT_EQ(::stat((dir.path() + "/gw1.pem").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600);
  std::string pem = ReadAll(dir.path() + "/gw1.pem");
  EXPECT_NE(pem.find("-----BEGIN PRIVATE KEY-----"), std::string::npos);
  EXPECT_EQ(ReadAll(dir.path() + "/gw1.vkey"), *vkey + "\n");
  auto signer = NoteSigner::FromPemFile(dir.path() + "/gw1.pem");
  ASSERT_TRUE(signer.ok()) << signer.status();
  EXPECT_EQ((*signer)->name(), "gw1");
  EXPECT_EQ((*signer)->vkey(), *vkey);
  EXPECT_EQ(vkey->substr(0, 4), "gw1+");
  // Refuses to overwrite; rejects bad names.
  EXPECT_FALSE(GenerateAuditKey("gw1", dir.path()).ok());
  EXPECT_FALSE(GenerateAuditKey("bad name", dir.path()).ok());
  EXPECT_FALSE(GenerateAuditKey("a+b", dir.path()).ok());
  EXPECT_FALSE(NoteSigner::FromPemFile(dir.path() + "/gw1.vkey").ok());
}

TEST(Base64, StrictDecoding) {
  EXPECT_EQ(Base64Decode("aGk="), std::string("hi"));
  EXPECT_FALSE(Base64Decode("aGl=").has_value());  // non-zero padding bits
  EXPECT_FALSE(Base64Decode("aGk").has_value());
  EXPECT_FALSE(Base64Decode("a Gk=").has_value());
  EXPECT_FALSE(Base64Decode("aG=k").has_value());
  EXPECT_EQ(Base64Decode(""), std::string());
}

TEST(Crc32c, KnownAnswer) {
  // RFC 3720 B.4: 32 bytes of zeros.
  EXPECT_EQ(Crc32c(std::string(32, '\0')), 0x8A9136AAu);
  EXPECT_EQ(Crc32c("123456789"), 0xE3069283u);
}

}  // namespace
}  // namespace residency::audit
