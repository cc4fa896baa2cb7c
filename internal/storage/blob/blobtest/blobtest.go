// Package blobtest finds the object-store servers that scripts/servers.sh
// started (from STATSNAP_TEST_* variables), makes a bucket on each, and
// hands tests a fresh location and the environment statsnap needs there.
// A test that needs a server skips when it is absent, except under
// CI=true, where a missing server is a failure.
package blobtest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// Bucket is the bucket (or container) every test uses, each under a
// prefix of its own.
const Bucket = "statsnap-test"

// Server is one running object store.
type Server struct {
	Name string
	// Env is what statsnap needs to reach the server (credentials in the
	// cloud's standard variables, emulator hosts).
	Env  []string
	url  func(prefix string) string
	host string // 127.0.0.1:port, in Env or the URLs
}

// URL returns a fresh location (a new random prefix) on the server.
func (s Server) URL(t testing.TB) string {
	var b [6]byte
	rand.Read(b[:])
	return s.url(t.Name()[:min(len(t.Name()), 20)] + "-" + hex.EncodeToString(b[:]))
}

// Setenv applies Env to the test's process.
func (s Server) Setenv(t testing.TB) {
	for _, kv := range s.Env {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
}

// Names lists the servers the suite runs against.
var Names = []string{"minio", "versitygw", "fake-gcs-server", "azurite"}

// Get returns the server called name, ready with its bucket, or skips
// the test (fails it under CI=true) when the server is not running.
func Get(t testing.TB, name string) Server {
	t.Helper()
	s, err := find(name)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s: %v (scripts/servers.sh start should have started it)", name, err)
		}
		t.Skipf("%s: %v; run scripts/servers.sh start DIR and source DIR/env to run this test", name, err)
	}
	return s
}

func find(name string) (Server, error) {
	key, secret := os.Getenv("STATSNAP_TEST_S3_ACCESS_KEY"), os.Getenv("STATSNAP_TEST_S3_SECRET_KEY")
	s3env := []string{"AWS_ACCESS_KEY_ID=" + key, "AWS_SECRET_ACCESS_KEY=" + secret, "AWS_EC2_METADATA_DISABLED=true",
		"AWS_REGION=us-east-1", "AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null"}
	switch name {
	case "minio", "versitygw":
		v := "STATSNAP_TEST_S3_ENDPOINT"
		if name == "versitygw" {
			v = "STATSNAP_TEST_VERSITYGW_ENDPOINT"
		}
		ep := os.Getenv(v)
		if ep == "" {
			return Server{}, fmt.Errorf("%s is not set", v)
		}
		if !strings.HasPrefix(ep, "http://127.0.0.1:") {
			return Server{}, fmt.Errorf("%s=%q is not on 127.0.0.1", v, ep)
		}
		if err := makeS3Bucket(ep, key, secret); err != nil {
			return Server{}, err
		}
		return Server{Name: name, Env: s3env, host: strings.TrimPrefix(ep, "http://"), url: func(p string) string {
			return "s3://" + Bucket + "/" + p + "?endpoint=" + ep + "&region=us-east-1&use_path_style=true"
		}}, nil
	case "fake-gcs-server":
		host := os.Getenv("STATSNAP_TEST_GCS_EMULATOR_HOST")
		if host == "" {
			return Server{}, errors.New("STATSNAP_TEST_GCS_EMULATOR_HOST is not set")
		}
		if !strings.HasPrefix(host, "127.0.0.1:") {
			return Server{}, fmt.Errorf("STATSNAP_TEST_GCS_EMULATOR_HOST=%q is not on 127.0.0.1", host)
		}
		body := fmt.Sprintf(`{"name": %q}`, Bucket)
		resp, err := http.Post("http://"+host+"/storage/v1/b?project=test", "application/json", bytes.NewBufferString(body))
		if err != nil {
			return Server{}, err
		}
		resp.Body.Close()
		if resp.StatusCode/100 != 2 && resp.StatusCode != http.StatusConflict {
			return Server{}, fmt.Errorf("create bucket: %s", resp.Status)
		}
		return Server{Name: name, host: host, Env: []string{"STORAGE_EMULATOR_HOST=" + host, "GOOGLE_APPLICATION_CREDENTIALS="},
			url: func(p string) string { return "gs://" + Bucket + "/" + p }}, nil
	case "azurite":
		dom := os.Getenv("STATSNAP_TEST_AZURE_DOMAIN")
		acct, akey := os.Getenv("STATSNAP_TEST_AZURE_ACCOUNT"), os.Getenv("STATSNAP_TEST_AZURE_KEY")
		if dom == "" || acct == "" || akey == "" {
			return Server{}, errors.New("STATSNAP_TEST_AZURE_DOMAIN is not set")
		}
		if !strings.HasPrefix(dom, "127.0.0.1:") {
			return Server{}, fmt.Errorf("STATSNAP_TEST_AZURE_DOMAIN=%q is not on 127.0.0.1", dom)
		}
		cred, err := azblob.NewSharedKeyCredential(acct, akey)
		if err != nil {
			return Server{}, err
		}
		c, err := azblob.NewClientWithSharedKeyCredential("http://"+dom+"/"+acct, cred, nil)
		if err != nil {
			return Server{}, err
		}
		if _, err := c.CreateContainer(context.Background(), Bucket, nil); err != nil && !strings.Contains(err.Error(), "ContainerAlreadyExists") {
			return Server{}, fmt.Errorf("create container: %w", err)
		}
		return Server{Name: name, host: dom, Env: []string{"AZURE_STORAGE_ACCOUNT=" + acct, "AZURE_STORAGE_KEY=" + akey,
			"AZURE_STORAGE_DOMAIN=" + dom, "AZURE_STORAGE_PROTOCOL=http", "AZURE_STORAGE_IS_LOCAL_EMULATOR=true"},
			url: func(p string) string { return "azblob://" + Bucket + "/" + p }}, nil
	}
	return Server{}, fmt.Errorf("unknown server %q", name)
}

// Requests are the requests sent to a server through Counted's proxy,
// one line each: the method and the URL's path and query.
type Requests struct {
	mu   sync.Mutex
	log  []string
	fail func(r *http.Request) bool
}

// Fail makes the proxy answer each request for which fail returns true
// with S3's 409 ExistingObjectIsDirectory, the error versitygw returns
// when a PutObject races with the removal of its folder, instead of
// passing it on. The request is still recorded.
func (r *Requests) Fail(fail func(r *http.Request) bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.fail = fail
}

// conflict is the body of S3's error answer.
const conflict = `<?xml version="1.0" encoding="UTF-8"?>
<Error><Code>ExistingObjectIsDirectory</Code><Message>Existing Object is a directory.</Message></Error>`

// Take returns the requests since the last Take, and forgets them.
func (r *Requests) Take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.log
	r.log = nil
	return out
}

// Counted returns s reached through a reverse proxy on 127.0.0.1 that
// records every request, so that a test can say how many requests an
// operation costs. Toward an S3 server the proxy keeps the Host header,
// which SigV4 signs; fake-gcs-server routes on it, so it gets its own.
func (s Server) Counted(t testing.TB) (Server, *Requests) {
	t.Helper()
	target, err := url.Parse("http://" + s.host)
	if err != nil {
		t.Fatal(err)
	}
	reqs := &Requests{}
	s3 := strings.HasPrefix(s.url(""), "s3://")
	rp := httputil.NewSingleHostReverseProxy(target)
	ps := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reqs.mu.Lock()
		reqs.log = append(reqs.log, r.Method+" "+r.URL.RequestURI())
		fail := reqs.fail != nil && reqs.fail(r)
		reqs.mu.Unlock()
		if fail {
			_, _ = io.Copy(io.Discard, r.Body)
			w.Header().Set("Content-Type", "application/xml")
			w.WriteHeader(http.StatusConflict)
			_, _ = io.WriteString(w, conflict)
			return
		}
		if !s3 {
			r.Host = target.Host
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(ps.Close)
	host := strings.TrimPrefix(ps.URL, "http://")
	c := s
	c.host = host
	c.Env = nil
	for _, kv := range s.Env {
		c.Env = append(c.Env, strings.ReplaceAll(kv, s.host, host))
	}
	c.url = func(p string) string {
		u := strings.ReplaceAll(s.url(p), s.host, host)
		if strings.HasPrefix(u, "azblob://") {
			// gocloud reads AZURE_STORAGE_DOMAIN once per process; the
			// URL's own parameters win.
			u += "?domain=" + host + "&protocol=http&localemu=true"
		}
		return u
	}
	return c, reqs
}

func makeS3Bucket(endpoint, key, secret string) error {
	c := s3.New(s3.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(endpoint),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(key, secret, ""),
	})
	_, err := c.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String(Bucket)})
	if err != nil && !strings.Contains(err.Error(), "BucketAlreadyOwnedByYou") && !strings.Contains(err.Error(), "BucketAlreadyExists") {
		return fmt.Errorf("create bucket on %s: %w", endpoint, err)
	}
	return nil
}
